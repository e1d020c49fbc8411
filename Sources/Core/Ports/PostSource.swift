/// What a fetch from a source returned.
public struct SourceBatch: Sendable {
    /// The channel, in Bot API form (`-100…` for channels and supergroups).
    public var chatID: Int64
    public var title: String
    /// Posts newer than the requested offset, in message id order.
    public var posts: [SourcePost]
    /// The highest message id seen, service messages included; the new offset once `posts` are stored.
    public var lastMessageID: Int64?
    /// Problems in the source that did not stop the fetch; the job logs them.
    public var warnings: [String] = []
    /// Posts at or below the offset whose content may have changed since they were imported (edits).
    public var edits: [SourcePost] = []
    /// Ranges of message ids between the offset and the newest post that the source could not deliver.
    public var gaps: [ClosedRange<Int64>] = []

    public init(chatID: Int64, title: String, posts: [SourcePost], lastMessageID: Int64?) {
        self.chatID = chatID
        self.title = title
        self.posts = posts
        self.lastMessageID = lastMessageID
    }
}

/// A reader of one source channel.
public protocol PostSource: Sendable {
    /// The channel's Bot API id when the reader knows it without reading (an export learns it from its file).
    var knownChatID: Int64? { get }
    /// Posts with a message id greater than `offset` (all posts when `offset` is `nil`), plus edits of older ones.
    func fetch(after offset: Int64?) async throws -> SourceBatch
}

extension PostSource {
    public var knownChatID: Int64? { nil }
}
