import Foundation

/// Media the bot can send: a `file_id` it has seen, or a file from an export folder to upload.
public struct SendableMedia: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        case fileID(String)
        case upload(URL, fileName: String)
    }
    /// Bot API media type: `photo`, `video`, `animation`, `audio`, `voice`, `video_note`, `sticker`, `document`.
    public var type: String
    public var source: Source

    /// Bot API method that sends one item of this type, and its file parameter.
    var method: (name: String, field: String) {
        switch type {
        case "photo": ("sendPhoto", "photo")
        case "video": ("sendVideo", "video")
        case "animation": ("sendAnimation", "animation")
        case "audio": ("sendAudio", "audio")
        case "voice": ("sendVoice", "voice")
        case "video_note": ("sendVideoNote", "video_note")
        case "sticker": ("sendSticker", "sticker")
        default: ("sendDocument", "document")
        }
    }
    /// Video notes and stickers carry no caption.
    var takesCaption: Bool { type != "video_note" && type != "sticker" }
    /// `sendMediaGroup` mixes photos and videos; audio and documents group only with their own type.
    var albumClass: String? {
        switch type {
        case "photo", "video": "visual"
        case "audio", "document": type
        default: nil
        }
    }
}

/// One Bot API call of a unit's publication.
public struct PlannedCall: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `sendMessage`.
        case text(FormattedText, preview: LinkPreview?)
        /// `sendPhoto`, `sendVideo`…
        case media(SendableMedia, caption: FormattedText?)
        /// `sendMediaGroup`, each item with its own caption.
        case album([AlbumItem])
    }
    public struct AlbumItem: Sendable, Hashable {
        public var media: SendableMedia
        public var caption: FormattedText?
    }
    public var kind: Kind
    /// The post each resulting message carries (one per album item, one otherwise).
    public var postIDs: [Int64]
    /// Sent as a reply to the first message of this earlier call (a caption's continuation).
    public var replyToStep: Int?
    public var role: String
}

/// How a unit becomes Bot API calls, decided before anything is sent so an interrupted unit resumes with
/// the same calls.
///
/// Texts are cut at Telegram's limits in UTF-16 code units (4096 for a message, 1024 for a caption, 100
/// entities) by ``TextSplitter``; a caption that does not fit continues in reply messages. Nothing is
/// truncated. Media that cannot be sent (not in the export, too large for the Bot API, a poll) is left out
/// and the text goes alone; ``notes`` says why, for the log.
public struct TelegramPlan: Sendable {
    public var calls: [PlannedCall] = []
    public var notes: [String] = []

    /// Bot API upload limits: 10 MB for photos, 50 MB for other files.
    static let photoUploadLimit: Int64 = 10 * 1024 * 1024
    static let fileUploadLimit: Int64 = 50 * 1024 * 1024

    public init(unit: PublicationUnit, mediaRoot: URL?) {
        var withMedia: [(item: PublicationUnit.Item, media: SendableMedia)] = []
        var textOnly: [PublicationUnit.Item] = []
        for item in unit.items {
            if let descriptor = item.source.media.first, let media = resolve(descriptor, root: mediaRoot, messageID: item.source.messageID) {
                withMedia.append((item, media))
            } else {
                textOnly.append(item)
            }
        }

        let classes = Set(withMedia.map { $0.media.albumClass })
        if withMedia.count >= 2, withMedia.count <= 10, classes.count == 1, classes.first! != nil {
            var overflow: [(Int64, [FormattedText])] = []
            let items = withMedia.map { entry -> PlannedCall.AlbumItem in
                let chunks = Self.captionChunks(entry.item.content)
                if chunks.count > 1 { overflow.append((entry.item.postID, Array(chunks.dropFirst()))) }
                return PlannedCall.AlbumItem(media: entry.media, caption: chunks.first)
            }
            calls.append(PlannedCall(kind: .album(items), postIDs: withMedia.map(\.item.postID), replyToStep: nil, role: "media"))
            for (postID, chunks) in overflow {
                for chunk in chunks {
                    calls.append(PlannedCall(kind: .text(chunk, preview: LinkPreview(isDisabled: true)), postIDs: [postID], replyToStep: 0, role: "continuation"))
                }
            }
        } else {
            for entry in withMedia {
                let step = calls.count
                let chunks = entry.media.takesCaption ? Self.captionChunks(entry.item.content) : []
                // A sticker or video note carries no caption: its text follows as messages ("media_only").
                calls.append(PlannedCall(kind: .media(entry.media, caption: chunks.first), postIDs: [entry.item.postID], replyToStep: nil,
                                         role: !entry.media.takesCaption ? "media_only" : chunks.isEmpty ? "media" : "caption"))
                let rest = entry.media.takesCaption ? Array(chunks.dropFirst()) : Self.textChunks(entry.item.content)
                for chunk in rest {
                    calls.append(PlannedCall(kind: .text(chunk, preview: LinkPreview(isDisabled: true)), postIDs: [entry.item.postID], replyToStep: step, role: "continuation"))
                }
            }
        }
        for item in textOnly {
            let chunks = Self.textChunks(item.content)
            if chunks.isEmpty {
                notes.append("message \(item.source.messageID) has nothing Telegram can carry (no text, media not sendable); recorded without a message")
            }
            for (index, chunk) in chunks.enumerated() {
                calls.append(PlannedCall(kind: .text(chunk, preview: Self.preview(item.source.linkPreview, for: chunk, index: index)),
                                         postIDs: [item.postID], replyToStep: nil, role: "text"))
            }
        }
    }

    /// A caption's chunks: the first within 1024 code units, the rest within 4096. Empty text gives none.
    static func captionChunks(_ text: FormattedText) -> [FormattedText] {
        guard text.hasVisibleText else { return [] }
        return TextSplitter.split(text, firstLimit: TextSplitter.captionLimit)
    }

    static func textChunks(_ text: FormattedText) -> [FormattedText] {
        guard text.hasVisibleText else { return [] }
        return TextSplitter.split(text)
    }

    /// The source's preview choice for one chunk: a preview of a chosen URL goes on the chunk that holds it,
    /// and the other chunks show none (so a split text never gains previews the source did not have).
    static func preview(_ source: LinkPreview?, for chunk: FormattedText, index: Int) -> LinkPreview? {
        guard let source else { return nil }
        if source.isDisabled { return source }
        if let url = source.url {
            let holds = chunk.text.contains(url) || chunk.entities.contains { $0.url == url }
            return holds ? source : LinkPreview(isDisabled: true)
        }
        return index == 0 ? source : LinkPreview(isDisabled: true)
    }

    private mutating func resolve(_ media: MediaDescriptor, root: URL?, messageID: Int64) -> SendableMedia? {
        let type: String
        switch media.kind {
        case "photo", "video", "animation", "audio", "voice", "sticker", "document": type = media.kind
        case "video_message": type = "video_note"
        default:
            notes.append("message \(messageID): \(media.kind) cannot be sent through the Bot API; its text goes alone")
            return nil
        }
        if let id = media.fileID, !id.isEmpty { return SendableMedia(type: type, source: .fileID(id)) }
        guard let relative = media.path, let root else {
            notes.append("message \(messageID): the \(media.kind) is not in the export (export with media to upload it); its text goes alone")
            return nil
        }
        let base = root.standardizedFileURL.resolvingSymlinksInPath()
        let file = base.appendingPathComponent(relative).standardizedFileURL.resolvingSymlinksInPath()
        // A hostile export must not make the bot upload files from outside its folder.
        guard file.path.hasPrefix(base.path + "/") else {
            notes.append("message \(messageID): media path \(relative) points outside the export folder; not uploaded")
            return nil
        }
        guard let size = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber else {
            notes.append("message \(messageID): \(relative) is not in the export folder; its text goes alone")
            return nil
        }
        let limit = type == "photo" ? Self.photoUploadLimit : Self.fileUploadLimit
        guard size.int64Value <= limit else {
            notes.append("message \(messageID): \(relative) is \(size.int64Value / 1_048_576) MB, over the Bot API upload limit of \(limit / 1_048_576) MB; its text goes alone")
            return nil
        }
        return SendableMedia(type: type, source: .upload(file, fileName: media.fileName ?? file.lastPathComponent))
    }
}

extension TelegramPlan {
    /// A fingerprint of every call: what it sends (texts, entities, media types, file ids or names), not where
    /// the files lie, so a newer export of the same channel at another path keeps the same plan.
    public var fingerprint: String {
        var text = ""
        func media(_ m: SendableMedia) -> String {
            switch m.source {
            case .fileID(let id): "\(m.type):id:\(id)"
            case .upload(let url, let name): "\(m.type):file:\(name):\(url.lastPathComponent)"
            }
        }
        for call in calls {
            switch call.kind {
            case .text(let t, _): text += "T\(t.contentHash)"
            case .media(let m, let caption): text += "M\(media(m))\(caption?.contentHash ?? "-")"
            case .album(let items): text += "A" + items.map { media($0.media) + ($0.caption?.contentHash ?? "-") }.joined(separator: ",")
            }
            text += "|\(call.role)|\(call.postIDs.map(String.init).joined(separator: ","))|\(call.replyToStep ?? -1);"
        }
        return FormattedText(text: text).contentHash
    }
}

extension FormattedText {
    /// Telegram refuses a message of whitespace only.
    var hasVisibleText: Bool { text.unicodeScalars.contains { !$0.properties.isWhitespace } }

    /// A stable fingerprint of the text and its entities, to tell whether an edit changes anything.
    public var contentHash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(StableHash.fnv1a((try? encoder.encode(self)) ?? Data(text.utf8)), radix: 16)
    }
}
