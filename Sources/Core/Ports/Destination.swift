/// The posts published together: one post, or every post of an album.
public struct PublicationUnit: Sendable {
    public struct Item: Sendable {
        public var postID: Int64
        public var source: SourcePost
        /// What goes out: the translation, or the source text when it needed none.
        public var content: FormattedText
        public init(postID: Int64, source: SourcePost, content: FormattedText) {
            self.postID = postID
            self.source = source
            self.content = content
        }
    }

    public var routeID: Int64
    public var targetLanguage: LanguageCode
    public var items: [Item]

    public init(routeID: Int64, targetLanguage: LanguageCode, items: [Item]) {
        self.routeID = routeID
        self.targetLanguage = targetLanguage
        self.items = items
    }

    /// Stable identity of the unit in the destination: route and first source message.
    public var key: String {
        guard let first = items.first else { return "\(routeID)/empty" }
        return "\(routeID)/\(first.source.chatID)/\(first.source.messageID)"
    }
}

/// Where translated posts are published.
public protocol Destination: Sendable {
    /// Publishes a unit and returns the destination message ids it produced, in item order.
    func publish(_ unit: PublicationUnit) async throws -> [String]
    /// After a crash between publishing and recording it: the ids the unit produced, if it did reach the
    /// destination, or `nil` when it did not.
    func findPublished(key: String) async throws -> [String]?
    /// Called once after each publish run with how many posts it published (the file destination then
    /// rewrites its review page).
    func finishRun(published: Int) async throws
}
