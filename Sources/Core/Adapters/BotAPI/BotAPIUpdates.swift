import Foundation

/// Reads Bot API `getUpdates` responses and webhook updates into source posts.
///
/// Only `channel_post` and `edited_channel_post` become posts; every other kind is counted and ignored.
/// One update that cannot be decoded does not fail the batch: its `update_id` still moves the offset forward
/// and a warning names it, because a poison update would otherwise block the queue until Telegram drops it
/// after 24 hours, taking every later post with it.
public enum BotAPIUpdates {
    /// A response or update that is not the Bot API shape.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// Parses a `getUpdates` body; throws ``BotAPIError`` for `ok: false` and ``ParseError`` for anything not JSON of that shape.
    public static func parse(_ data: Data) throws -> BotAPIUpdateBatch {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: data)
        } catch {
            throw ParseError(description: "not a Bot API response: \(describe(error))")
        }
        guard envelope.ok else {
            // The one reader of Bot API error bodies; a body too malformed for it is still an error.
            throw BotAPIError.decode(data) ?? BotAPIError(code: 0, description: BotAPIError.noDescription)
        }
        guard let slots = envelope.result else {
            throw ParseError(description: "not a getUpdates response: \"ok\" is true but \"result\" is missing")
        }
        var batch = BotAPIUpdateBatch()
        for slot in slots { batch.add(slot) }
        return batch
    }

    /// Decodes one webhook update (a bare `Update` object, not wrapped in a response).
    public static func parseUpdate(_ data: Data) throws -> BotAPIUpdate {
        do {
            return try JSONDecoder().decode(BotAPIUpdate.self, from: data)
        } catch {
            throw ParseError(description: "not a Bot API update: \(describe(error))")
        }
    }

    /// A batch of one webhook update, processed exactly as an item of `getUpdates`.
    public static func batch(of update: BotAPIUpdate) -> BotAPIUpdateBatch {
        var batch = BotAPIUpdateBatch()
        batch.add(UpdateSlot(update: .success(update), updateID: update.updateID))
        return batch
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? ParseError { return error.description }
        guard let error = error as? DecodingError else { return "not valid JSON" }
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the top level" : p
        }
        switch error {
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context))"
        case .keyNotFound(let key, let context): return "missing \"\(key.stringValue)\" at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "unexpected value at \(path(context))"
        @unknown default: return "unexpected structure"
        }
    }
}

/// What one `getUpdates` call returned, reduced to what a channel mirror needs.
public struct BotAPIUpdateBatch: Sendable {
    /// The highest `update_id` seen, ignored and undecodable updates included.
    public var lastUpdateID: Int64?
    /// Channel posts and their edits, in the order Telegram sent them.
    public var posts: [BotAPIChannelPost] = []
    /// Updates of other kinds (`message`, `edited_message`, `my_chat_member`, …) by kind.
    public var ignoredKinds: [String: Int] = [:]
    /// Updates that could not be decoded; their ids still count for the offset.
    public var undecodableUpdateIDs: [Int64] = []
    /// Problems that did not stop the batch (dropped entities, undecodable updates); the job logs them.
    public var warnings: [String] = []

    public init() {}

    /// The `offset` for the next `getUpdates` call: one more than the highest id seen, which confirms this batch.
    public var nextOffset: Int64? { lastUpdateID.map { $0 + 1 } }

    /// How many updates were not channel posts.
    public var ignoredCount: Int { ignoredKinds.values.reduce(0, +) }

    fileprivate mutating func add(_ slot: UpdateSlot) {
        if let id = slot.updateID { lastUpdateID = max(lastUpdateID ?? id, id) }
        switch slot.update {
        case .failure(let error):
            if let id = slot.updateID { undecodableUpdateIDs.append(id) }
            warnings.append("update \(slot.updateID.map(String.init) ?? "without update_id") could not be decoded and was skipped: \(BotAPIUpdates.describe(error))")
        case .success(let update):
            let message: BotAPIMessage
            let isEdit: Bool
            if let post = update.channelPost {
                (message, isEdit) = (post, false)
            } else if let edit = update.editedChannelPost {
                (message, isEdit) = (edit, true)
            } else {
                ignoredKinds[update.kind, default: 0] += 1
                return
            }
            // Real channel posts have a `-100…` chat of type channel; anything else is a test fixture or a bug upstream.
            if message.chat.type != "channel" || message.chat.id > -1_000_000_000_000 {
                warnings.append("update \(update.updateID): channel post in chat \(message.chat.id) of type \(message.chat.type), not a Bot API channel id")
            }
            if isEdit && message.editDate == nil {
                warnings.append("update \(update.updateID): edited_channel_post without edit_date")
            }
            let post = message.sourcePost(warnings: &warnings)
            posts.append(BotAPIChannelPost(
                updateID: update.updateID, isEdit: isEdit, chatTitle: message.chat.title, chatUsername: message.chat.username, post: post
            ))
        }
    }
}

/// A channel post or its new version, read from one update.
public struct BotAPIChannelPost: Sendable, Hashable {
    public var updateID: Int64
    /// Whether it came as `edited_channel_post` (the post's new version, same message id).
    public var isEdit: Bool
    public var chatTitle: String?
    public var chatUsername: String?
    public var post: SourcePost
}

// MARK: - Models

/// One Bot API `Update`; only the message-carrying kinds are decoded, the kind of any other is kept by name.
public struct BotAPIUpdate: Decodable, Sendable, Hashable {
    public var updateID: Int64
    /// The name of the optional field that is set: `channel_post`, `message`, `my_chat_member`, …
    public var kind: String
    public var message: BotAPIMessage?
    public var editedMessage: BotAPIMessage?
    public var channelPost: BotAPIMessage?
    public var editedChannelPost: BotAPIMessage?

    enum CodingKeys: String, CodingKey {
        case updateID = "update_id"
        case message
        case editedMessage = "edited_message"
        case channelPost = "channel_post"
        case editedChannelPost = "edited_channel_post"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        updateID = try c.decode(Int64.self, forKey: .updateID)
        message = try c.decodeIfPresent(BotAPIMessage.self, forKey: .message)
        editedMessage = try c.decodeIfPresent(BotAPIMessage.self, forKey: .editedMessage)
        channelPost = try c.decodeIfPresent(BotAPIMessage.self, forKey: .channelPost)
        editedChannelPost = try c.decodeIfPresent(BotAPIMessage.self, forKey: .editedChannelPost)
        // "At most one of the optional parameters can be present"; sorted so the name is stable if a server sends more.
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).filter { $0 != "update_id" }.sorted()
        kind = keys.first ?? "unknown"
    }
}

/// The chat a message belongs to (for a channel post, the channel).
public struct BotAPIChat: Decodable, Sendable, Hashable {
    /// Bot API form: `-100…` for channels and supergroups.
    public var id: Int64
    public var type: String
    public var title: String?
    public var username: String?
}

/// A file-like attachment; one shape for video, animation, audio, voice, video note, document and sticker.
public struct BotAPIFile: Decodable, Sendable, Hashable {
    public var fileID: String
    public var fileUniqueID: String?
    public var fileName: String?
    public var mimeType: String?
    public var fileSize: Int64?
    public var width: Int?
    public var height: Int?
    /// Video notes are square and give one side as `length`.
    public var length: Int?
    public var duration: Int?
    /// A sticker's emoji.
    public var emoji: String?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case fileName = "file_name"
        case mimeType = "mime_type"
        case fileSize = "file_size"
        case width, height, length, duration, emoji
    }
}

/// One size of a photo; a photo message lists several.
public struct BotAPIPhotoSize: Decodable, Sendable, Hashable {
    public var fileID: String
    public var fileUniqueID: String?
    public var width: Int
    public var height: Int
    public var fileSize: Int64?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case width, height
        case fileSize = "file_size"
    }
}

/// A poll's question and answer options.
public struct BotAPIPoll: Decodable, Sendable, Hashable {
    public struct Option: Decodable, Sendable, Hashable { public var text: String }
    public var id: String?
    public var question: String
    public var options: [Option]?
}

/// The fields of a Bot API `Message` that a channel mirror uses; the rest (forward_origin, reply markup, …) is ignored.
public struct BotAPIMessage: Decodable, Sendable, Hashable {
    public var messageID: Int64
    public var date: Int64
    public var editDate: Int64?
    public var chat: BotAPIChat
    public var senderChat: BotAPIChat?
    public var text: String?
    public var entities: [MessageEntity]?
    public var caption: String?
    public var captionEntities: [MessageEntity]?
    public var mediaGroupID: String?
    public var photo: [BotAPIPhotoSize]?
    public var video: BotAPIFile?
    public var animation: BotAPIFile?
    public var audio: BotAPIFile?
    public var voice: BotAPIFile?
    public var videoNote: BotAPIFile?
    public var document: BotAPIFile?
    public var sticker: BotAPIFile?
    public var poll: BotAPIPoll?
    public var linkPreviewOptions: LinkPreview?
    /// Entities that were not entity objects at all (a wrong type inside the array); dropped while decoding.
    public var malformedEntityCount: Int = 0

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case date
        case editDate = "edit_date"
        case chat
        case senderChat = "sender_chat"
        case text, entities, caption
        case captionEntities = "caption_entities"
        case mediaGroupID = "media_group_id"
        case photo, video, animation, audio, voice
        case videoNote = "video_note"
        case document, sticker, poll
        case linkPreviewOptions = "link_preview_options"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messageID = try c.decode(Int64.self, forKey: .messageID)
        date = try c.decode(Int64.self, forKey: .date)
        editDate = try c.decodeIfPresent(Int64.self, forKey: .editDate)
        chat = try c.decode(BotAPIChat.self, forKey: .chat)
        senderChat = try c.decodeIfPresent(BotAPIChat.self, forKey: .senderChat)
        text = try c.decodeIfPresent(String.self, forKey: .text)
        caption = try c.decodeIfPresent(String.self, forKey: .caption)
        // One bad entity loses its formatting, not the whole post.
        let textEntities = try c.decodeIfPresent(LossyArray<MessageEntity>.self, forKey: .entities)
        let captionEntities = try c.decodeIfPresent(LossyArray<MessageEntity>.self, forKey: .captionEntities)
        entities = textEntities?.items
        self.captionEntities = captionEntities?.items
        malformedEntityCount = (textEntities?.dropped ?? 0) + (captionEntities?.dropped ?? 0)
        mediaGroupID = try c.decodeIfPresent(String.self, forKey: .mediaGroupID)
        photo = try c.decodeIfPresent([BotAPIPhotoSize].self, forKey: .photo)
        video = try c.decodeIfPresent(BotAPIFile.self, forKey: .video)
        animation = try c.decodeIfPresent(BotAPIFile.self, forKey: .animation)
        audio = try c.decodeIfPresent(BotAPIFile.self, forKey: .audio)
        voice = try c.decodeIfPresent(BotAPIFile.self, forKey: .voice)
        videoNote = try c.decodeIfPresent(BotAPIFile.self, forKey: .videoNote)
        document = try c.decodeIfPresent(BotAPIFile.self, forKey: .document)
        sticker = try c.decodeIfPresent(BotAPIFile.self, forKey: .sticker)
        poll = try c.decodeIfPresent(BotAPIPoll.self, forKey: .poll)
        linkPreviewOptions = try c.decodeIfPresent(LinkPreview.self, forKey: .linkPreviewOptions)
    }

    /// The largest photo variant: by pixel area, then by file size (Telegram lists sizes smallest first, but does not promise it).
    public var largestPhoto: BotAPIPhotoSize? {
        photo?.max { a, b in
            let areaA = Int64(a.width) * Int64(a.height), areaB = Int64(b.width) * Int64(b.height)
            return areaA != areaB ? areaA < areaB : (a.fileSize ?? 0) < (b.fileSize ?? 0)
        }
    }

    /// The text or caption with its entities, after dropping entities that do not fit the text.
    public func content(warnings: inout [String]) -> FormattedText {
        let (body, raw) = text.map { ($0, entities ?? []) } ?? (caption ?? "", captionEntities ?? [])
        var content = FormattedText(text: body, entities: [])
        let units = body.utf16.count
        if malformedEntityCount > 0 {
            warnings.append("message \(messageID): \(malformedEntityCount) malformed entities dropped")
        }
        for entity in raw {
            guard entity.length > 0, entity.offset >= 0, entity.offset <= units, entity.length <= units - entity.offset else {
                warnings.append("message \(messageID): \(entity.type) entity at \(entity.offset) length \(entity.length) is outside the text's \(units) UTF-16 units; dropped")
                continue
            }
            guard content.substring(utf16: entity.range) != nil else {
                warnings.append("message \(messageID): \(entity.type) entity at \(entity.offset) length \(entity.length) splits a surrogate pair; dropped")
                continue
            }
            content.entities.append(entity)
        }
        return content
    }

    /// Attachments as media descriptors, with the Bot API `file_id` that lets the same bot resend them.
    public var media: [MediaDescriptor] {
        var result: [MediaDescriptor] = []
        if let photo = largestPhoto {
            result.append(MediaDescriptor(kind: "photo", fileID: photo.fileID, fileSize: photo.fileSize, width: photo.width, height: photo.height))
        }
        let files: [(String, BotAPIFile?)] = [
            ("video", video), ("animation", animation), ("audio", audio), ("voice", voice), ("video_message", videoNote),
            ("document", document), ("sticker", sticker),
        ]
        // An animation message also carries a `document` with the same file (backward compatibility); keep one.
        let animationFileID = animation?.fileID
        for case let (kind, file?) in files where !(kind == "document" && file.fileID == animationFileID) {
            result.append(MediaDescriptor(
                kind: kind, fileID: file.fileID, fileName: file.fileName, mimeType: file.mimeType, fileSize: file.fileSize,
                width: file.width ?? file.length, height: file.height ?? file.length, durationSeconds: file.duration,
                summary: kind == "sticker" ? file.emoji : nil
            ))
        }
        if let poll {
            let answers = (poll.options ?? []).map(\.text).joined(separator: " / ")
            result.append(MediaDescriptor(kind: "poll", summary: answers.isEmpty ? poll.question : "\(poll.question) — \(answers)"))
        }
        return result
    }

    /// The message as a source post; entity problems are appended to `warnings`.
    public func sourcePost(warnings: inout [String]) -> SourcePost {
        SourcePost(
            chatID: chat.id,
            messageID: messageID,
            date: Date(timeIntervalSince1970: TimeInterval(date)),
            editDate: editDate.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            content: content(warnings: &warnings),
            media: media,
            albumID: mediaGroupID,
            linkPreview: linkPreviewOptions
        )
    }
}

// MARK: - Wire shapes

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// An array whose elements that fail to decode are counted and skipped.
private struct LossyArray<Element: Decodable>: Decodable {
    var items: [Element] = []
    var dropped = 0

    private struct Skip: Decodable {
        init(from decoder: Decoder) throws {}
    }

    init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        while !c.isAtEnd {
            if let item = try? c.decode(Element.self) {
                items.append(item)
            } else {
                dropped += 1
                // A failed decode does not advance the container; decode something that always succeeds to move on.
                guard (try? c.decode(Skip.self)) != nil else { break }
            }
        }
    }
}

/// One element of `result`: the update, or why it failed, plus its id when that much could be read.
private struct UpdateSlot: Decodable {
    var update: Result<BotAPIUpdate, Error>
    var updateID: Int64?

    init(update: Result<BotAPIUpdate, Error>, updateID: Int64?) {
        self.update = update
        self.updateID = updateID
    }

    enum IDKey: String, CodingKey { case updateID = "update_id" }

    init(from decoder: Decoder) throws {
        do {
            update = .success(try BotAPIUpdate(from: decoder))
        } catch {
            update = .failure(error)
        }
        updateID = try? decoder.container(keyedBy: IDKey.self).decode(Int64.self, forKey: .updateID)
    }
}

private struct Envelope: Decodable {
    var ok: Bool
    var result: [UpdateSlot]?

    enum CodingKeys: String, CodingKey { case ok, result }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ok = try c.decode(Bool.self, forKey: .ok)
        guard ok, c.contains(.result), try !c.decodeNil(forKey: .result) else {
            result = nil
            return
        }
        // Element by element, so that a `null` or a malformed update costs only itself.
        var items = try c.nestedUnkeyedContainer(forKey: .result)
        var slots: [UpdateSlot] = []
        while !items.isAtEnd {
            if try items.decodeNil() {
                slots.append(UpdateSlot(update: .failure(BotAPIUpdates.ParseError(description: "null instead of an update")), updateID: nil))
            } else {
                slots.append(try items.decode(UpdateSlot.self))
            }
        }
        result = slots
    }
}
