import Foundation

/// A file or other non-text content attached to a post.
public struct MediaDescriptor: Codable, Sendable, Hashable {
    /// `photo`, `video`, `animation`, `video_message`, `voice`, `audio`, `sticker`, `document`, `poll`, …
    public var kind: String
    /// Path of the downloaded file relative to the export folder, when the export contains it.
    public var path: String?
    public var fileName: String?
    public var mimeType: String?
    public var fileSize: Int64?
    public var width: Int?
    public var height: Int?
    public var durationSeconds: Int?
    /// A short human description for kinds without a file (a poll's question, a location).
    public var summary: String?

    enum CodingKeys: String, CodingKey {
        case kind, path
        case fileName = "file_name"
        case mimeType = "mime_type"
        case fileSize = "file_size"
        case width, height
        case durationSeconds = "duration_seconds"
        case summary
    }

    public init(
        kind: String, path: String? = nil, fileName: String? = nil, mimeType: String? = nil, fileSize: Int64? = nil,
        width: Int? = nil, height: Int? = nil, durationSeconds: Int? = nil, summary: String? = nil
    ) {
        self.kind = kind
        self.path = path
        self.fileName = fileName
        self.mimeType = mimeType
        self.fileSize = fileSize
        self.width = width
        self.height = height
        self.durationSeconds = durationSeconds
        self.summary = summary
    }

    /// Kinds Telegram can group into an album (`sendMediaGroup` accepts photo, video, audio, document).
    public var canBeInAlbum: Bool { ["photo", "video", "audio", "document"].contains(kind) }
}

/// A post as read from the source channel.
public struct SourcePost: Sendable, Hashable {
    public var chatID: Int64
    public var messageID: Int64
    public var date: Date
    public var editDate: Date?
    public var content: FormattedText
    public var media: [MediaDescriptor]
    /// Posts sharing an album id were sent as one media group and are published together.
    public var albumID: String?

    public init(chatID: Int64, messageID: Int64, date: Date, editDate: Date? = nil, content: FormattedText, media: [MediaDescriptor] = [], albumID: String? = nil) {
        self.chatID = chatID
        self.messageID = messageID
        self.date = date
        self.editDate = editDate
        self.content = content
        self.media = media
        self.albumID = albumID
    }

    /// Whether the post has words to translate (media-only posts are published without a translation call).
    public var needsTranslation: Bool {
        content.text.unicodeScalars.contains { $0.properties.isAlphabetic }
    }
}
