import Foundation

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

/// What the destination knows about a unit whose publication was interrupted.
public enum PublishedLookup: Sendable, Equatable {
    /// It arrived; these are the message ids of each item, in item order.
    case arrived([[String]])
    /// It did not arrive, or only its recorded parts did: publishing it again sends only what is missing.
    case missing
    /// A call was interrupted without an answer; nobody can tell whether it arrived.
    case unknown(reason: String)
}

/// The destination is resting (flood control); nothing of the route may go out before `until`.
public struct DestinationBusy: Error, CustomStringConvertible, Sendable {
    public var until: Date
    public var reason: String
    public init(until: Date, reason: String) {
        self.until = until
        self.reason = reason
    }
    public var description: String { "\(reason); resuming after \(until.formatted(.iso8601))" }
}

/// Where translated posts are published.
public protocol Destination: Sendable {
    /// Publishes a unit and returns, for each item in order, the destination message ids it produced.
    ///
    /// A destination that needs several calls for one unit records each call in `journal` as it goes, so an
    /// interrupted unit resumes with its next call.
    func publish(_ unit: PublicationUnit, journal: any PublicationJournal) async throws -> [[String]]
    /// After a crash between publishing and recording it: whether the unit reached the destination.
    func findPublished(key: String, postIDs: [Int64], journal: any PublicationJournal) async throws -> PublishedLookup
    /// Shows a published post's new content (its source was edited): `post` is a unit of that one post.
    /// Returns the post's message ids after the edit.
    func edit(_ post: PublicationUnit, journal: any PublicationJournal) async throws -> [String]
    /// Called once after each publish run with how many posts it published (the file destination then
    /// rewrites its review page).
    func finishRun(published: Int) async throws
}
