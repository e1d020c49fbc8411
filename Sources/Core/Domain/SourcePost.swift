import Foundation

/// A file or other non-text content attached to a post.
public struct MediaDescriptor: Codable, Sendable, Hashable {
    /// `photo`, `video`, `animation`, `video_message`, `voice`, `audio`, `sticker`, `document`, `poll`, …
    public var kind: String
    /// Path of the downloaded file relative to the export folder, when the export contains it.
    public var path: String?
    /// Bot API `file_id`, when the post was read through the Bot API: the same bot can send it again by id.
    public var fileID: String?
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
        case fileID = "file_id"
        case fileName = "file_name"
        case mimeType = "mime_type"
        case fileSize = "file_size"
        case width, height
        case durationSeconds = "duration_seconds"
        case summary
    }

    public init(
        kind: String, path: String? = nil, fileID: String? = nil, fileName: String? = nil, mimeType: String? = nil, fileSize: Int64? = nil,
        width: Int? = nil, height: Int? = nil, durationSeconds: Int? = nil, summary: String? = nil
    ) {
        self.kind = kind
        self.path = path
        self.fileID = fileID
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
    /// The source's link preview choice, kept on the published copy; `nil` when the source does not say.
    public var linkPreview: LinkPreview?

    public init(
        chatID: Int64, messageID: Int64, date: Date, editDate: Date? = nil, content: FormattedText, media: [MediaDescriptor] = [],
        albumID: String? = nil, linkPreview: LinkPreview? = nil
    ) {
        self.linkPreview = linkPreview
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

/// A post's link preview setting, in the shape of the Bot API's `LinkPreviewOptions`.
public struct LinkPreview: Codable, Sendable, Hashable {
    public var isDisabled: Bool
    /// The URL previewed, when it is not the first one in the text.
    public var url: String?
    public var preferSmallMedia: Bool
    public var preferLargeMedia: Bool
    public var showAboveText: Bool

    enum CodingKeys: String, CodingKey {
        case isDisabled = "is_disabled"
        case url
        case preferSmallMedia = "prefer_small_media"
        case preferLargeMedia = "prefer_large_media"
        case showAboveText = "show_above_text"
    }

    public init(isDisabled: Bool = false, url: String? = nil, preferSmallMedia: Bool = false, preferLargeMedia: Bool = false, showAboveText: Bool = false) {
        self.isDisabled = isDisabled
        self.url = url
        self.preferSmallMedia = preferSmallMedia
        self.preferLargeMedia = preferLargeMedia
        self.showAboveText = showAboveText
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        isDisabled = try c.decodeIfPresent(Bool.self, forKey: .isDisabled) ?? false
        url = try c.decodeIfPresent(String.self, forKey: .url)
        preferSmallMedia = try c.decodeIfPresent(Bool.self, forKey: .preferSmallMedia) ?? false
        preferLargeMedia = try c.decodeIfPresent(Bool.self, forKey: .preferLargeMedia) ?? false
        showAboveText = try c.decodeIfPresent(Bool.self, forKey: .showAboveText) ?? false
    }
}
