import Foundation

/// Reads a Telegram Desktop "Export chat history" `result.json` of one channel.
///
/// Text comes from `text_entities`, an array of parts each with a `type`; their concatenation is the plain
/// text, and each non-`plain` part becomes an entity whose offset and length are counted in UTF-16 code units.
/// Service messages are skipped. Exports carry no media group id, so consecutive album-capable media with
/// the same `date_unixtime` form an album, at most ten items of one compatible class, as Telegram allows.
public struct TelegramDesktopExport: PostSource {
    public let url: URL

    public init(path: String) {
        self.url = URL(fileURLWithPath: path)
    }

    /// An export that cannot be read.
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String {
            "cannot read Telegram export \(path): \(reason); export the channel with Telegram Desktop → Export chat history → format JSON"
        }
    }

    public func fetch(after offset: Int64?) async throws -> SourceBatch {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ReadError(path: url.path, reason: "file not found or unreadable")
        }
        return try Self.parse(data, path: url.path, after: offset)
    }

    /// Parses export bytes; `after` filters out messages at or below the offset (album ids are assigned
    /// over the whole export first, so an album keeps its id whatever the offset).
    public static func parse(_ data: Data, path: String = "result.json", after offset: Int64? = nil) throws -> SourceBatch {
        let export: ExportFile
        do {
            export = try JSONDecoder().decode(ExportFile.self, from: data)
        } catch let error as DecodingError {
            throw ReadError(path: path, reason: Self.describe(error))
        } catch {
            throw ReadError(path: path, reason: "not valid JSON")
        }
        guard let messages = export.messages, let id = export.id else {
            throw ReadError(path: path, reason: "no \"messages\" array or channel \"id\" (is this a whole-account export? export a single channel instead)")
        }
        let chatID = Self.botAPIChatID(id: id, type: export.type)
        var posts: [SourcePost] = []
        posts.reserveCapacity(messages.count)
        var lastID: Int64?
        var seen = Set<Int64>()
        var duplicates: [Int64] = []
        for message in messages {
            lastID = max(lastID ?? message.id, message.id)
            guard message.type == "message" else { continue }
            // An id twice is a corrupt export; keep the first and say so rather than guess silently.
            guard seen.insert(message.id).inserted else {
                duplicates.append(message.id)
                continue
            }
            posts.append(message.post(chatID: chatID))
        }
        posts.sort { $0.messageID < $1.messageID }
        assignAlbums(&posts)
        if let offset { posts.removeAll { $0.messageID <= offset } }
        var batch = SourceBatch(chatID: chatID, title: export.name ?? "", posts: posts, lastMessageID: lastID)
        if !duplicates.isEmpty {
            batch.warnings.append("message ids appear more than once in the export; the first of each was kept: \(duplicates.prefix(10).map(String.init).joined(separator: ", "))")
        }
        return batch
    }

    /// Channel and supergroup ids are stored as the Bot API writes them (`-100` + id), so every reader of the
    /// same channel (export, Bot API, web preview) maps to the same chat.
    static func botAPIChatID(id: Int64, type: String?) -> Int64 {
        switch type {
        case "public_channel", "private_channel", "public_supergroup", "private_supergroup":
            return -1_000_000_000_000 - id
        default:
            return id
        }
    }

    static func assignAlbums(_ posts: inout [SourcePost]) {
        func albumClass(_ post: SourcePost) -> String? {
            guard post.media.count == 1, let media = post.media.first, media.canBeInAlbum else { return nil }
            return media.kind == "photo" || media.kind == "video" ? "visual" : media.kind
        }
        var start = 0
        while start < posts.count {
            var end = start + 1
            if let cls = albumClass(posts[start]) {
                while end < posts.count, end - start < 10, albumClass(posts[end]) == cls, posts[end].date == posts[start].date {
                    end += 1
                }
            }
            if end - start > 1 {
                let id = "\(posts[start].messageID)"
                for i in start..<end { posts[i].albumID = id }
            }
            start = end
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context))"
        case .keyNotFound(let key, let context):
            return context.codingPath.isEmpty ? "missing \"\(key.stringValue)\"" : "missing \"\(key.stringValue)\" at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "unexpected value at \(path(context))"
        @unknown default: return "unexpected structure"
        }
    }
}

// MARK: - File format

private struct ExportFile: Decodable {
    var name: String?
    var type: String?
    var id: Int64?
    var messages: [ExportMessage]?
}

/// A Unix time between 2013 (Telegram's launch) and 2100; anything else is a corrupt export.
private struct ExportTime: Decodable {
    var date: Date
    init(from decoder: Decoder) throws {
        let seconds = try LooseInt(from: decoder).value
        guard (1_356_998_400...4_102_444_800).contains(seconds) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "time out of range"))
        }
        date = Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

/// A number that TDesktop writes as a JSON string (`"date_unixtime": "1727604864"`) or a number.
private struct LooseInt: Decodable {
    var value: Int64
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            value = n
        } else if let s = try? c.decode(String.self), let n = Int64(s) {
            value = n
        } else {
            throw DecodingError.typeMismatch(Int64.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an integer"))
        }
    }
}

private struct ExportTextPart: Decodable {
    var type: String
    var text: String
    var href: String? = nil
    var documentID: String? = nil
    var userID: LooseInt? = nil
    var language: String? = nil
    var collapsed: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case type, text, href
        case documentID = "document_id"
        case userID = "user_id"
        case language, collapsed
    }
}

/// The older `text` field: a string, or an array of strings and part objects. Used when an export has no
/// `text_entities` (exports from before that field existed).
private struct ExportText: Decodable {
    var parts: [ExportTextPart]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let plain = try? c.decode(String.self) {
            parts = [ExportTextPart(type: "plain", text: plain)]
            return
        }
        var items = try decoder.unkeyedContainer()
        parts = []
        while !items.isAtEnd {
            if let plain = try? items.decode(String.self) {
                parts.append(ExportTextPart(type: "plain", text: plain))
            } else {
                parts.append(try items.decode(ExportTextPart.self))
            }
        }
    }
}

private struct ExportContact: Decodable {
    var firstName: String?
    var lastName: String?
    enum CodingKeys: String, CodingKey {
        case firstName = "first_name"
        case lastName = "last_name"
    }
}

private struct ExportPoll: Decodable {
    struct Answer: Decodable { var text: String }
    var question: String
    var answers: [Answer]?
}

private struct ExportLocation: Decodable {
    var latitude: Double
    var longitude: Double
}

private struct ExportMessage: Decodable {
    var id: Int64
    var type: String
    var dateUnixtime: ExportTime
    var editedUnixtime: ExportTime?
    var textEntities: [ExportTextPart]?
    var text: ExportText?
    var photo: String?
    var photoFileSize: Int64?
    var file: String?
    var fileName: String?
    var fileSize: Int64?
    var mediaType: String?
    var mimeType: String?
    var durationSeconds: Int?
    var width: Int?
    var height: Int?
    var poll: ExportPoll?
    var locationInformation: ExportLocation?
    var contactInformation: ExportContact?

    enum CodingKeys: String, CodingKey {
        case id, type
        case dateUnixtime = "date_unixtime"
        case editedUnixtime = "edited_unixtime"
        case textEntities = "text_entities"
        case photo
        case photoFileSize = "photo_file_size"
        case file
        case fileName = "file_name"
        case fileSize = "file_size"
        case mediaType = "media_type"
        case mimeType = "mime_type"
        case durationSeconds = "duration_seconds"
        case width, height, poll
        case locationInformation = "location_information"
        case contactInformation = "contact_information"
        case text
    }

    func post(chatID: Int64) -> SourcePost {
        SourcePost(
            chatID: chatID,
            messageID: id,
            date: dateUnixtime.date,
            editDate: editedUnixtime?.date,
            content: formattedText(),
            media: media()
        )
    }

    func formattedText() -> FormattedText {
        var text = ""
        var entities: [MessageEntity] = []
        var offset = 0
        for part in textEntities ?? self.text?.parts ?? [] {
            let length = part.text.utf16.count
            defer {
                text += part.text
                offset += length
            }
            guard length > 0, let type = Self.entityType(part) else { continue }
            entities.append(MessageEntity(
                type: type,
                offset: offset,
                length: length,
                url: part.type == "text_link" ? part.href : nil,
                userID: part.type == "mention_name" ? part.userID?.value : nil,
                language: part.type == "pre" ? part.language.flatMap { $0.isEmpty ? nil : $0 } : nil,
                // Exports name a sticker file instead of the numeric custom emoji id; keep only real ids.
                customEmojiID: part.type == "custom_emoji" ? part.documentID.flatMap { $0.allSatisfy(\.isNumber) ? $0 : nil } : nil
            ))
        }
        return FormattedText(text: text, entities: entities)
    }

    /// TDesktop part type → Bot API entity type; `nil` for plain text and unknown kinds.
    static func entityType(_ part: ExportTextPart) -> String? {
        switch part.type {
        case "plain": nil
        case "link": "url"
        case "phone": "phone_number"
        case "mention_name": "text_mention"
        case "blockquote": part.collapsed == true ? "expandable_blockquote" : "blockquote"
        case "bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "text_link", "mention",
            "hashtag", "cashtag", "bot_command", "email", "bank_card", "custom_emoji":
            part.type
        default: nil
        }
    }

    func media() -> [MediaDescriptor] {
        func localPath(_ value: String?) -> String? {
            guard let value, !value.hasPrefix("(") else { return nil }
            return value
        }
        if let photo {
            return [MediaDescriptor(kind: "photo", path: localPath(photo), fileSize: photoFileSize, width: width, height: height)]
        }
        if file != nil || mediaType != nil {
            let kind: String
            switch mediaType {
            case "video_file": kind = "video"
            case "video_message": kind = "video_message"
            case "voice_message": kind = "voice"
            case "audio_file": kind = "audio"
            case "animation": kind = "animation"
            case "sticker": kind = "sticker"
            default: kind = "document"
            }
            return [MediaDescriptor(
                kind: kind, path: localPath(file), fileName: fileName, mimeType: mimeType, fileSize: fileSize,
                width: width, height: height, durationSeconds: durationSeconds
            )]
        }
        if let poll {
            let answers = (poll.answers ?? []).map(\.text).joined(separator: " / ")
            return [MediaDescriptor(kind: "poll", summary: answers.isEmpty ? poll.question : "\(poll.question) — \(answers)")]
        }
        if let contact = contactInformation {
            let name = [contact.firstName, contact.lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return [MediaDescriptor(kind: "contact", summary: name.isEmpty ? nil : name)]
        }
        if let location = locationInformation {
            return [MediaDescriptor(kind: "location", summary: "\(location.latitude),\(location.longitude)")]
        }
        return []
    }
}
