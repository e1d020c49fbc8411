import Foundation

/// One page of a public channel's web preview, `https://t.me/s/<channel>`.
///
/// The preview is lossy (B28): about 20 posts per page, some posts only as "Please open Telegram to view this
/// post", formatting reconstructed from HTML. Pages are paged backwards with `?before=<id>`; ``missingIDs(after:seen:limit:)``
/// finds ids that no page showed, for reconciliation by another route.
public struct WebPreviewPage: Sendable, Hashable {
    /// The page is not a channel preview at all (no message history section, e.g. a private channel or an error page).
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// Posts in page order (oldest first), service messages excluded.
    public var posts: [WebPreviewPost]
    /// The id to pass as `?before=` to load the next older page: the "load more" link, or the oldest id shown.
    /// `nil` when the page shows the channel's first message or nothing at all.
    public var beforeCursor: Int64?
    /// The `before=` of this page's own canonical URL (`/s/durov?before=540`); requesting it again returns this page.
    public var canonicalBefore: Int64?
    /// Every message id the page accounts for: posts, album members and service messages.
    public var seenMessageIDs: [Int64]
    /// Ids of service messages ("Channel created", pinned, …), which are not posts.
    public var serviceMessageIDs: [Int64]
    /// The channel's title from `og:title`.
    public var title: String?
    /// Posts that were skipped or read partially (no date, another channel's id); the job logs them.
    public var warnings: [String]

    /// Parses the HTML of `https://t.me/s/<channel>`; `channel` is the username, used to check `data-post` ids.
    public static func parse(html: String, channel: String) throws -> WebPreviewPage {
        let root = HTMLTree.parse(html)
        var posts: [WebPreviewPost] = []
        var seen: [Int64] = []
        var service: [Int64] = []
        var warnings: [String] = []
        let widgets = root.descendants { $0.hasClass("tgme_widget_message") && $0.attribute("data-post") != nil }
        let history = root.first { $0.hasClass("tgme_channel_history") }
        guard history != nil || !widgets.isEmpty else {
            throw ParseError(description: "not a t.me/s channel preview page: no message history (is the channel private, or the preview disabled?)")
        }
        for widget in widgets {
            let dataPost = widget.attribute("data-post") ?? ""
            guard let id = postID(dataPost, channel: channel) else {
                warnings.append("message with data-post \"\(dataPost.prefix(80))\" is not a post of \(channel); skipped")
                continue
            }
            if widget.hasClass("service_message") {
                service.append(id)
                seen.append(id)
                continue
            }
            switch WebPreviewPost.read(widget, id: id, channel: channel) {
            case .success(let post):
                posts.append(post)
                seen.append(contentsOf: [id] + post.albumMessageIDs)
            case .failure(let reason):
                // Not added to `seen`: the gap check then reports it, rather than the offset moving past it.
                warnings.append("post \(id): \(reason); skipped")
            }
        }
        var links: [String: String] = [:]
        for link in root.descendants({ $0.name == "link" }) {
            if let rel = link.attribute("rel"), let href = link.attribute("href"), links[rel.lowercased()] == nil { links[rel.lowercased()] = href }
        }
        let more = root.first { $0.hasClass("tme_messages_more") && $0.attribute("data-before") != nil }
        let oldest = seen.min()
        let before = links["prev"].flatMap { beforeParameter($0) } ?? more?.attribute("data-before").flatMap { Int64($0) }
            ?? oldest.flatMap { $0 > 1 ? $0 : nil }
        let title = root.first { $0.name == "meta" && $0.attribute("property") == "og:title" }?.attribute("content")
        return WebPreviewPage(
            posts: posts, beforeCursor: before, canonicalBefore: links["canonical"].flatMap { beforeParameter($0) },
            seenMessageIDs: Array(Set(seen)).sorted(), serviceMessageIDs: service, title: title, warnings: warnings
        )
    }

    /// Ids in `(offset, newest seen]` that none of `seen` contains, ascending, at most `limit` of them.
    ///
    /// With `offset` `nil` the range starts at the oldest id seen. The limit keeps a hostile id
    /// (`data-post="x/9223372036854775807"`) from asking for a huge array.
    public static func missingIDs(after offset: Int64?, seen: some Sequence<Int64>, limit: Int = 1000) -> [Int64] {
        let ids = Set(seen)
        guard let newest = ids.max(), let oldest = ids.min() else { return [] }
        let start = offset.map { $0 < Int64.max ? $0 + 1 : $0 } ?? oldest
        guard start <= newest else { return [] }
        var missing: [Int64] = []
        var id = start
        while id <= newest, missing.count < limit {
            if !ids.contains(id) { missing.append(id) }
            if id == Int64.max { break }
            id += 1
        }
        return missing
    }

    /// Ids after `offset` that this page does not account for.
    public func missingIDs(after offset: Int64?, limit: Int = 1000) -> [Int64] {
        Self.missingIDs(after: offset, seen: seenMessageIDs, limit: limit)
    }

    /// Whether this page reaches back to `offset`, so no older page is needed to see every newer post.
    public func reachesBack(to offset: Int64) -> Bool {
        guard let oldest = seenMessageIDs.first else { return true }
        return oldest - 1 <= offset || beforeCursor == nil
    }

    /// `17` from `durov/17`, when the name matches `channel` (usernames are case-insensitive).
    static func postID(_ dataPost: String, channel: String) -> Int64? {
        guard let slash = dataPost.lastIndex(of: "/") else { return nil }
        let name = dataPost[..<slash]
        guard name.lowercased() == channel.lowercased(), let id = Int64(dataPost[dataPost.index(after: slash)...]), id > 0 else { return nil }
        return id
    }

    /// The `before` query value of a URL like `/s/durov?before=540`.
    static func beforeParameter(_ href: String) -> Int64? {
        guard let query = href.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == "before", let value = Int64(parts[1]), value > 0 { return value }
        }
        return nil
    }
}

/// One post as the web preview shows it.
public struct WebPreviewPost: Sendable, Hashable {
    public var messageID: Int64
    public var date: Date
    /// The footer says "edited"; the preview does not say when.
    public var isEdited: Bool
    public var content: FormattedText
    public var media: [MediaDescriptor]
    /// The first message id of the album, when the post is an album (`tgme_widget_message_grouped_wrap`).
    public var albumID: String?
    /// Ids of the album's items, which the preview shows as one post.
    public var albumMessageIDs: [Int64]
    /// The link preview card's URL, when the post shows one.
    public var linkPreviewURL: String?
    /// The preview cannot show this post ("Please open Telegram to view this post"); its content is missing or partial.
    public var unsupported: Bool

    /// The post in the pipeline's model; `chatID` is the channel in Bot API form.
    public func sourcePost(chatID: Int64) -> SourcePost {
        SourcePost(
            chatID: chatID, messageID: messageID, date: date, content: content, media: media, albumID: albumID,
            linkPreview: linkPreviewURL.map { LinkPreview(url: $0) }
        )
    }

    static func read(_ widget: HTMLElement, id: Int64, channel: String) -> Result<WebPreviewPost, WebPreviewReadError> {
        // The fallback block for browsers without media support, quoted replies and link preview cards hold
        // their own texts and images; none of them is this post's content.
        let foreign: (HTMLElement) -> Bool = {
            $0.hasClass("media_not_supported_cont") || $0.hasClass("tgme_widget_message_reply") || $0.hasClass("tgme_widget_message_link_preview")
        }
        let textDiv = widget.first(skipping: foreign) { $0.hasClass("tgme_widget_message_text") }
        guard let time = widget.first(where: { $0.hasClass("tgme_widget_message_date") })?.first(where: { $0.name == "time" && $0.attribute("datetime") != nil })
            ?? widget.first(where: { $0.name == "time" && $0.attribute("datetime") != nil }),
            let datetime = time.attribute("datetime")
        else { return .failure(WebPreviewReadError(description: "no date")) }
        guard let date = ISO8601DateFormatter().date(from: datetime) else {
            return .failure(WebPreviewReadError(description: "unreadable date \"\(datetime.prefix(40))\""))
        }
        let meta = widget.first { $0.hasClass("tgme_widget_message_meta") }
        let isEdited = meta.map { $0.textContent.contains("edited") } ?? false

        var media: [MediaDescriptor] = []
        var itemIDs: [Int64] = []
        let mediaClasses = [
            "tgme_widget_message_photo_wrap", "tgme_widget_message_video_player", "tgme_widget_message_roundvideo_player",
            "tgme_widget_message_document_wrap", "tgme_widget_message_voice_player", "tgme_widget_message_sticker_wrap",
            "tgme_widget_message_poll",
        ]
        for element in widget.descendants(skipping: foreign, stopAtMatch: true, { e in mediaClasses.contains { e.hasClass($0) } }) {
            if let item = element.attribute("href").flatMap({ WebPreviewPage.postID(linkPath($0), channel: channel) }) { itemIDs.append(item) }
            media.append(descriptor(element))
        }
        let grouped = widget.first { $0.hasClass("tgme_widget_message_grouped_wrap") } != nil
        let albumItems = grouped ? Array(Set(itemIDs + [id])).sorted() : []
        let notSupported = widget.first(skipping: { foreign($0) || mediaClasses.contains(where: $0.hasClass) }) {
            $0.hasClass("message_media_not_supported")
        } != nil
        let content = textDiv.map { TextBuilder.build($0) } ?? FormattedText(text: "")
        let linkPreview = widget.first { $0.hasClass("tgme_widget_message_link_preview") }?.attribute("href")
        return .success(WebPreviewPost(
            messageID: id, date: date, isEdited: isEdited, content: content, media: media,
            albumID: albumItems.first.map(String.init), albumMessageIDs: albumItems.filter { $0 != id }, linkPreviewURL: linkPreview,
            // Shown only as the "open Telegram" notice, or nothing recognisable at all.
            unsupported: notSupported || (textDiv == nil && media.isEmpty)
        ))
    }

    /// `durov/17` from `https://t.me/durov/17?single`.
    private static func linkPath(_ href: String) -> String {
        var path = Substring(href)
        for prefix in ["https://t.me/", "http://t.me/", "//t.me/", "/"] where path.hasPrefix(prefix) {
            path = path.dropFirst(prefix.count)
            break
        }
        return String(path.prefix { $0 != "?" && $0 != "#" })
    }

    private static func descriptor(_ e: HTMLElement) -> MediaDescriptor {
        func text(_ cls: String) -> String? {
            e.first { $0.hasClass(cls) }.map { $0.textContent.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        if e.hasClass("tgme_widget_message_photo_wrap") {
            return MediaDescriptor(kind: "photo", summary: backgroundImage(e.attribute("style")))
        }
        if e.hasClass("tgme_widget_message_video_player") || e.hasClass("tgme_widget_message_roundvideo_player") {
            let video = e.first { $0.name == "video" }?.attribute("src")
            let thumb = e.first { $0.hasClass("tgme_widget_message_video_thumb") || $0.hasClass("tgme_widget_message_roundvideo_thumb") }
            return MediaDescriptor(
                kind: e.hasClass("tgme_widget_message_roundvideo_player") ? "video_message" : "video",
                durationSeconds: text("message_video_duration").flatMap(duration) ?? text("message_roundvideo_duration").flatMap(duration),
                summary: video ?? backgroundImage(thumb?.attribute("style"))
            )
        }
        if e.hasClass("tgme_widget_message_voice_player") {
            return MediaDescriptor(kind: "voice", durationSeconds: text("tgme_widget_message_voice_duration").flatMap(duration))
        }
        if e.hasClass("tgme_widget_message_sticker_wrap") {
            return MediaDescriptor(kind: "sticker")
        }
        if e.hasClass("tgme_widget_message_poll") {
            return MediaDescriptor(kind: "poll", summary: text("tgme_widget_message_poll_question"))
        }
        return MediaDescriptor(
            kind: "document", fileName: text("tgme_widget_message_document_title"), summary: text("tgme_widget_message_document_extra")
        )
    }

    /// The URL in `background-image:url('…')`.
    static func backgroundImage(_ style: String?) -> String? {
        guard let style, let start = style.range(of: "background-image:url(") else { return nil }
        let rest = style[start.upperBound...]
        guard let end = rest.firstIndex(of: ")") else { return nil }
        let url = rest[..<end].trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
        return url.isEmpty ? nil : url
    }

    /// Seconds in `0:09` or `1:02:03`.
    static func duration(_ text: String) -> Int? {
        let parts = text.split(separator: ":").map { Int($0) }
        guard !parts.isEmpty, parts.count <= 3, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return parts.reduce(0) { $0 * 60 + ($1 ?? 0) }
    }
}

struct WebPreviewReadError: Error, CustomStringConvertible, Sendable {
    let description: String
}

// MARK: - Text and entities

/// Builds Telegram's text-plus-entities from the message text div, counting offsets in UTF-16 units.
enum TextBuilder {
    static func build(_ div: HTMLElement) -> FormattedText {
        var state = State()
        for child in div.children { state.walk(child) }
        state.entities.removeAll { $0.length <= 0 }
        return FormattedText(text: state.text, entities: state.entities)
    }

    private struct State {
        var text = ""
        var units = 0
        var entities: [MessageEntity] = []

        mutating func append(_ s: String) {
            text += s
            units += s.utf16.count
        }

        mutating func walk(_ node: HTMLNode) {
            switch node {
            case .text(let s): append(s)
            case .element(let e): walk(e)
            }
        }

        mutating func walk(_ e: HTMLElement) {
            if e.name == "br" {
                append("\n")
                return
            }
            // An emoji image: `<i class="emoji" style="…"><b>🔥</b></i>`. The `<b>` is presentation, not bold.
            if e.name == "i" && e.hasClass("emoji") {
                append(e.textContent)
                return
            }
            // Entities are recorded when they open, so the list comes out in Telegram's order: by offset, outer first.
            var entity = entityType(e)
            let index = entities.count
            let start = units
            if let e = entity { entities.append(e) }
            if entity?.type == "pre" {
                // `<pre><code class="language-swift">`: one pre entity with a language, no inner code entity.
                for child in e.children {
                    if case .element(let inner) = child, inner.name == "code" {
                        if let language = inner.attribute("class")?.split(separator: " ").first(where: { $0.hasPrefix("language-") }) {
                            entity?.language = String(language.dropFirst("language-".count))
                        }
                        for c in inner.children { walk(c) }
                    } else {
                        walk(child)
                    }
                }
            } else {
                for child in e.children { walk(child) }
            }
            guard var entity else { return }
            entity.offset = start
            entity.length = units - start
            if entity.type == "link" {
                entity = classify(entity, href: e.attribute("href") ?? "", visible: String(decoding: Array(text.utf16)[start..<units], as: UTF16.self))
            }
            entities[index] = entity
        }

        func entityType(_ e: HTMLElement) -> MessageEntity? {
            let type: String?
            switch e.name {
            case "b", "strong": type = "bold"
            case "i", "em": type = "italic"
            case "u", "ins": type = "underline"
            case "s", "strike", "del": type = "strikethrough"
            case "tg-spoiler": type = "spoiler"
            case "span": type = e.hasClass("tg-spoiler") ? "spoiler" : nil
            case "code": type = "code"
            case "pre": type = "pre"
            case "blockquote": type = e.attribute("expandable") != nil ? "expandable_blockquote" : "blockquote"
            case "a": type = e.attribute("href") != nil ? "link" : nil  // decided once the visible text is known
            case "tg-emoji":
                guard let id = e.attribute("emoji-id"), !id.isEmpty, id.allSatisfy(\.isASCII), id.allSatisfy(\.isNumber) else { return nil }
                return MessageEntity(type: "custom_emoji", offset: 0, length: 0, customEmojiID: id)
            default: type = nil
            }
            return type.map { MessageEntity(type: $0, offset: 0, length: 0) }
        }

        /// A link's entity type from its `href` (already entity-decoded once) and the text it shows.
        func classify(_ entity: MessageEntity, href: String, visible: String) -> MessageEntity {
            var e = entity
            e.url = nil
            let lowerHref = href.lowercased()
            if href.hasPrefix("?q=%23") {
                e.type = "hashtag"
            } else if href.hasPrefix("?q=%24") {
                e.type = "cashtag"
            } else if lowerHref == "mailto:" + visible.lowercased() {
                e.type = "email"
            } else if lowerHref == "tel:" + visible.lowercased() {
                e.type = "phone_number"
            } else if isSameURL(href, visible) {
                e.type = "url"
            } else if visible.hasPrefix("@"), let name = tmeName(href), name.lowercased() == visible.dropFirst().lowercased() {
                e.type = "mention"
            } else {
                e.type = "text_link"
                e.url = href
            }
            return e
        }

        /// The visible text is the URL itself, possibly without its scheme or trailing slash.
        func isSameURL(_ href: String, _ visible: String) -> Bool {
            let h = href.lowercased(), v = visible.lowercased()
            guard !v.isEmpty else { return false }
            for candidate in [v, "http://" + v, "https://" + v] where h == candidate || h == candidate + "/" {
                return true
            }
            return false
        }

        /// `durov` from `https://t.me/durov`, nothing for deeper paths.
        func tmeName(_ href: String) -> String? {
            for prefix in ["https://t.me/", "http://t.me/"] where href.lowercased().hasPrefix(prefix) {
                let name = href.dropFirst(prefix.count)
                return !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } ? String(name) : nil
            }
            return nil
        }
    }
}

// MARK: - HTML tokenizer and tree

/// A node of the forgiving HTML tree.
enum HTMLNode: Sendable {
    case text(String)
    case element(HTMLElement)
}

/// An element with lower-cased name, attributes decoded once, and children.
struct HTMLElement: Sendable {
    var name: String
    var attributes: [(String, String)] = []
    var children: [HTMLNode] = []

    func attribute(_ name: String) -> String? { attributes.first { $0.0 == name }?.1 }

    func hasClass(_ cls: String) -> Bool {
        guard let value = attribute("class") else { return false }
        return value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).contains { $0 == cls }
    }

    /// All text below this element, tags removed, `<br>` as a newline.
    var textContent: String {
        var out = ""
        func collect(_ node: HTMLNode) {
            switch node {
            case .text(let s): out += s
            case .element(let e):
                if e.name == "br" { out += "\n" }
                e.children.forEach(collect)
            }
        }
        children.forEach(collect)
        return out
    }

    /// Matching descendants in document order; `skipping` subtrees are not entered, and with `stopAtMatch` neither are matches.
    func descendants(skipping: (HTMLElement) -> Bool = { _ in false }, stopAtMatch: Bool = false, _ match: (HTMLElement) -> Bool) -> [HTMLElement] {
        var result: [HTMLElement] = []
        func visit(_ e: HTMLElement) {
            for case .element(let child) in e.children where !skipping(child) {
                let matched = match(child)
                if matched { result.append(child) }
                if !(matched && stopAtMatch) { visit(child) }
            }
        }
        visit(self)
        return result
    }

    /// The first matching descendant in document order.
    func first(skipping: (HTMLElement) -> Bool = { _ in false }, where match: (HTMLElement) -> Bool) -> HTMLElement? {
        for case .element(let child) in children where !skipping(child) {
            if match(child) { return child }
            if let found = child.first(skipping: skipping, where: match) { return found }
        }
        return nil
    }
}

/// A small, forgiving HTML parser: never fails, whatever the input.
///
/// Unknown tags are kept as plain elements, an end tag closes the nearest open element of its name (stray end
/// tags are ignored), unterminated tags and comments end the document, a `<` that does not start a tag is text,
/// and nesting deeper than ``maxDepth`` is flattened so that walking the tree cannot exhaust the stack.
enum HTMLTree {
    static let maxDepth = 200
    static let voidElements: Set<String> = ["br", "img", "hr", "input", "meta", "link", "source", "wbr", "area", "base", "col", "embed", "param", "track"]
    static let rawTextElements: Set<String> = ["script", "style", "textarea", "title"]

    static func parse(_ html: String) -> HTMLElement {
        let bytes = Array(html.utf8)
        var stack: [HTMLElement] = [HTMLElement(name: "#document")]
        var pendingText: [UInt8] = []
        var i = 0
        let n = bytes.count

        func flushText() {
            guard !pendingText.isEmpty else { return }
            let s = HTMLEntities.decode(String(decoding: pendingText, as: UTF8.self))
            pendingText.removeAll(keepingCapacity: true)
            stack[stack.count - 1].children.append(.text(s))
        }
        func closeTop() {
            let element = stack.removeLast()
            stack[stack.count - 1].children.append(.element(element))
        }
        func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F || b == 0x3A
        }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0C }
        func isLetter(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) }
        /// The index just past `needle` at or after `from`, or `nil`.
        func find(_ needle: [UInt8], from: Int) -> Int? {
            guard !needle.isEmpty, n >= needle.count else { return nil }
            var j = from
            while j + needle.count <= n {
                if bytes[j] == needle[0] && Array(bytes[j..<(j + needle.count)]) == needle { return j + needle.count }
                j += 1
            }
            return nil
        }
        func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

        while i < n {
            let b = bytes[i]
            guard b == 0x3C, i + 1 < n else {  // not "<", or "<" as the last byte
                pendingText.append(b)
                i += 1
                continue
            }
            let next = bytes[i + 1]
            if next == 0x21 || next == 0x3F {  // "<!" or "<?": comment, doctype, processing instruction
                flushText()
                if next == 0x21, i + 3 < n, bytes[i + 2] == 0x2D, bytes[i + 3] == 0x2D {
                    i = find(Array("-->".utf8), from: i + 4) ?? n
                } else {
                    i = find([0x3E], from: i + 2) ?? n
                }
                continue
            }
            if next == 0x2F {  // "</"
                guard i + 2 < n, isLetter(bytes[i + 2]) else {
                    pendingText.append(b)
                    i += 1
                    continue
                }
                var j = i + 2
                while j < n, isNameByte(bytes[j]) { j += 1 }
                let name = string((i + 2)..<j).lowercased()
                guard let end = find([0x3E], from: j) else {
                    i = n  // unterminated end tag: the document ends here
                    break
                }
                i = end
                flushText()
                // Close up to the nearest open element of this name; a stray end tag changes nothing.
                if let depth = stack.lastIndex(where: { $0.name == name }), depth > 0 {
                    while stack.count > depth { closeTop() }
                }
                continue
            }
            guard isLetter(next) else {  // "<" in text, like "a < b"
                pendingText.append(b)
                i += 1
                continue
            }
            // A start tag: name, then attributes until ">" (quoted values may contain ">").
            var j = i + 1
            while j < n, isNameByte(bytes[j]) { j += 1 }
            let name = string((i + 1)..<j).lowercased()
            var attributes: [(String, String)] = []
            var selfClosing = false
            var terminated = false
            while j < n {
                while j < n, isSpace(bytes[j]) { j += 1 }
                guard j < n else { break }
                if bytes[j] == 0x3E { j += 1; terminated = true; break }
                if bytes[j] == 0x2F { selfClosing = true; j += 1; continue }
                let nameStart = j
                while j < n, !isSpace(bytes[j]), bytes[j] != 0x3D, bytes[j] != 0x3E, bytes[j] != 0x2F || j == nameStart { j += 1 }
                let attrName = string(nameStart..<j).lowercased()
                selfClosing = false
                while j < n, isSpace(bytes[j]) { j += 1 }
                var value = ""
                if j < n, bytes[j] == 0x3D {
                    j += 1
                    while j < n, isSpace(bytes[j]) { j += 1 }
                    if j < n, bytes[j] == 0x22 || bytes[j] == 0x27 {
                        let quote = bytes[j]
                        let valueStart = j + 1
                        j = valueStart
                        while j < n, bytes[j] != quote { j += 1 }
                        value = string(valueStart..<j)
                        if j < n { j += 1 }
                    } else {
                        let valueStart = j
                        while j < n, !isSpace(bytes[j]), bytes[j] != 0x3E { j += 1 }
                        value = string(valueStart..<j)
                    }
                }
                if !attrName.isEmpty, !attributes.contains(where: { $0.0 == attrName }) {
                    attributes.append((attrName, HTMLEntities.decode(value)))
                }
            }
            guard terminated else {
                i = n  // unterminated start tag: drop it, as a browser does
                break
            }
            i = j
            flushText()
            if rawTextElements.contains(name) {
                // Script and style bodies are not markup; skip to their end tag.
                i = find(Array("</\(name)".utf8), from: i).flatMap { find([0x3E], from: $0) } ?? n
                stack[stack.count - 1].children.append(.element(HTMLElement(name: name, attributes: attributes)))
                continue
            }
            let element = HTMLElement(name: name, attributes: attributes)
            if voidElements.contains(name) || selfClosing || stack.count > maxDepth {
                stack[stack.count - 1].children.append(.element(element))
            } else {
                stack.append(element)
            }
        }
        flushText()
        while stack.count > 1 { closeTop() }
        return stack[0]
    }
}

/// HTML character references, decoded exactly once.
enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
        "laquo": "«", "raquo": "»", "mdash": "—", "ndash": "–", "hellip": "…", "copy": "©", "reg": "®", "trade": "™",
    ]

    static func decode(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            // A reference is at most a few dozen characters and ends with ";"; anything else stays literal.
            if let semi = after.prefix(12).firstIndex(of: ";"), let value = reference(after[..<semi]) {
                out += value
                rest = after[after.index(after: semi)...]
            } else {
                out += "&"
                rest = after
            }
        }
        out += rest
        return out
    }

    private static func reference(_ body: Substring) -> String? {
        if body.hasPrefix("#x") || body.hasPrefix("#X") {
            return UInt32(body.dropFirst(2), radix: 16).map(scalar)
        }
        if body.hasPrefix("#") {
            return UInt32(body.dropFirst(1), radix: 10).map(scalar)
        }
        return named[String(body)]
    }

    /// Invalid code points (0, surrogates, beyond U+10FFFF) become U+FFFD, as HTML specifies.
    private static func scalar(_ value: UInt32) -> String {
        guard value != 0, let scalar = Unicode.Scalar(value) else { return "\u{FFFD}" }
        return String(Character(scalar))
    }
}
