import Foundation

/// Where posts come from, written as `kind:argument` in `SRC_CHANNEL` and in `routes.source`.
public enum SourceSpec: Sendable, Hashable, CustomStringConvertible {
    /// A Telegram Desktop "Export chat history" `result.json`.
    case desktopExport(path: String)
    /// A channel the bot (`TELEGRAM_BOT_TOKEN`) is an admin of, read through `getUpdates`: `@name` or `-100…`.
    case botAPI(chat: String)
    /// A public channel's web preview `https://t.me/s/<name>` (no account needed; lossy, see the README).
    case webPreview(channel: String)

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(_ text: String) throws(ParseError) {
        if text.hasPrefix("botapi:") {
            guard let chat = DestinationSpec.canonicalChat(String(text.dropFirst("botapi:".count))) else {
                throw ParseError(description: "\(text) is not a channel; use botapi:@channel_username or botapi:-1001234567890")
            }
            self = .botAPI(chat: chat)
        } else if let name = Self.webPreviewName(text) {
            guard let chat = DestinationSpec.canonicalChat("@" + name) else {
                throw ParseError(description: "\(text) is not a public channel name; use web:channel_username (the name in t.me/s/channel_username)")
            }
            self = .webPreview(channel: String(chat.dropFirst()))
        } else if text.hasPrefix("export:") {
            let path = String(text.dropFirst("export:".count))
            guard !path.isEmpty else { throw ParseError(description: "export: needs a path, e.g. export:/data/result.json") }
            self = .desktopExport(path: normalizedPath(path))
        } else {
            throw ParseError(description: "\(text) is not a supported source; use botapi:@channel (bot is admin there), web:channel (public web preview) or export:/path/to/result.json")
        }
    }

    /// `web:name`, `https://t.me/s/name` or `t.me/s/name`.
    static func webPreviewName(_ text: String) -> String? {
        if text.hasPrefix("web:") { return String(text.dropFirst("web:".count)) }
        for prefix in ["https://t.me/s/", "http://t.me/s/", "t.me/s/"] where text.hasPrefix(prefix) {
            return String(text.dropFirst(prefix.count).prefix { $0 != "/" && $0 != "?" })
        }
        return nil
    }

    public var description: String {
        switch self {
        case .desktopExport(let path): "export:\(path)"
        case .botAPI(let chat): "botapi:\(chat)"
        case .webPreview(let channel): "web:\(channel)"
        }
    }

    /// The chat id a web-preview route is known by: the preview shows no numeric id, so one is derived from
    /// the username, in a range no real Bot API id uses.
    public static func webPreviewChatID(_ channel: String) -> Int64 {
        -9_000_000_000_000_000_000 - Int64(StableHash.fnv1a(channel.lowercased().utf8) % 100_000_000_000_000_000)
    }
}

/// Where translated posts go, written as `kind:argument` in `DST_CHANNEL` and in `routes.destination`.
public enum DestinationSpec: Sendable, Hashable, CustomStringConvertible {
    /// A folder receiving `publications.jsonl` and a side-by-side `index.html`, for dry runs and review.
    case files(directory: String)
    /// A Telegram channel the bot (`TELEGRAM_BOT_TOKEN`) posts in as an admin: `@username` or a numeric
    /// Bot API chat id (`-100…`).
    case telegram(chat: String)

    public init(_ text: String) throws(SourceSpec.ParseError) {
        let telegramChat = text.hasPrefix("telegram:") ? String(text.dropFirst("telegram:".count)) : text
        if telegramChat.hasPrefix("@") || telegramChat.hasPrefix("-") || telegramChat.first?.isNumber == true {
            guard let chat = Self.canonicalChat(telegramChat) else {
                throw SourceSpec.ParseError(description: "\(text) is not a Telegram channel; use telegram:@channel_username or telegram:-1001234567890")
            }
            self = .telegram(chat: chat)
        } else if text.hasPrefix("files:") {
            let dir = String(text.dropFirst("files:".count))
            guard !dir.isEmpty else { throw SourceSpec.ParseError(description: "files: needs a folder, e.g. files:./out") }
            self = .files(directory: normalizedPath(dir))
        } else {
            throw SourceSpec.ParseError(description: "\(text) is not a supported destination; use telegram:@channel (Bot API) or files:/path/to/folder (review files)")
        }
    }

    public var description: String {
        switch self {
        case .files(let directory): "files:\(directory)"
        case .telegram(let chat): "telegram:\(chat)"
        }
    }

    /// `@name` (5–32 letters, digits, underscores; Telegram usernames are case-insensitive, so lower-cased)
    /// or an integer chat id.
    static func canonicalChat(_ text: String) -> String? {
        if text.hasPrefix("@") {
            let name = text.dropFirst()
            guard (5...32).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
            return "@" + name.lowercased()
        }
        guard let id = Int64(text), id != 0 else { return nil }
        return String(id)
    }
}

/// An absolute path without `.`, `..` or a trailing slash, so one folder is always written one way (a route
/// is identified by its destination, and `out/`, `./out` and `/cwd/out` must be the same route).
func normalizedPath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}

/// A BCP 47-style language tag as operators write it (`en`, `de`, `pt-BR`, `zh-Hans`), in canonical case
/// (`EN` is `en`, `pt-br` is `pt-BR`) so one language never becomes two routes.
public struct LanguageCode: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }),
            parts.dropFirst().allSatisfy({ (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        else { return nil }
        let canonical = parts.enumerated().map { index, part -> String in
            if index == 0 { return part.lowercased() }
            if part.count == 2, part.allSatisfy(\.isLetter) { return part.uppercased() }  // region: BR
            if part.count == 4, part.allSatisfy(\.isLetter) { return part.prefix(1).uppercased() + part.dropFirst().lowercased() }  // script: Hans
            return part.lowercased()
        }
        description = canonical.joined(separator: "-")
    }
}

/// A route as configured: one source mirrored into one destination in one language.
public struct RouteSpec: Sendable, Hashable {
    public var source: SourceSpec
    public var destination: DestinationSpec
    public var targetLanguage: LanguageCode
    public init(source: SourceSpec, destination: DestinationSpec, targetLanguage: LanguageCode) {
        self.source = source
        self.destination = destination
        self.targetLanguage = targetLanguage
    }
}

/// A route as stored, with its database id.
public struct Route: Sendable, Hashable {
    public let id: Int64
    public let spec: RouteSpec
}
