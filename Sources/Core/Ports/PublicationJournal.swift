import Foundation

/// One destination message produced by a call of a unit's publishing plan.
public struct SentMessage: Sendable, Hashable {
    /// The source post the message carries.
    public var postID: Int64
    /// Index of the call in the unit's plan.
    public var step: Int
    /// Position in that call's result (an album's items).
    public var seq: Int
    public var messageID: Int64
    /// `text`, `media`, `caption` (media with its caption) or `continuation` (caption overflow).
    public var role: String
    /// Hash of the text and entities sent, so an edit that changes nothing makes no call.
    public var contentHash: String
    /// Fingerprint of the unit's whole plan when the message was sent, so a resumed unit continues the same plan.
    public var planHash: String

    public init(postID: Int64, step: Int, seq: Int, messageID: Int64, role: String, contentHash: String, planHash: String = "") {
        self.planHash = planHash
        self.postID = postID
        self.step = step
        self.seq = seq
        self.messageID = messageID
        self.role = role
        self.contentHash = contentHash
    }
}

/// Durable progress of one unit's publication, call by call.
///
/// `beginSend` is committed before a call and `recordSend` (or `abandonSend`) right after it, so after a
/// crash exactly the interrupted call is known, and every finished call is never made again.
public protocol PublicationJournal: Sendable {
    /// Messages already sent for these posts, in step and seq order.
    func sentMessages(postIDs: [Int64]) async throws -> [SentMessage]
    func beginSend(postIDs: [Int64], step: Int) async throws
    /// Stores the messages a call produced and clears the mark of `beginSend`, in one transaction.
    func recordSend(postIDs: [Int64], step: Int, chat: String, messages: [SentMessage]) async throws
    /// The call was answered with an error, so it produced nothing.
    func abandonSend(postIDs: [Int64], step: Int) async throws
    /// The step a previous run began and never finished, if any.
    func interruptedStep(postIDs: [Int64]) async throws -> Int?
    /// Forgets a message the destination no longer shows (an edit made the text shorter).
    func forgetSent(postID: Int64, step: Int, seq: Int) async throws
    /// Messages sent to `chat` in the last minute, and the seconds until the oldest of them leaves that
    /// minute, both by the database's clock (runs on several machines share one budget and one clock).
    func recentSends(toChat chat: String) async throws -> (messages: Int, oldestLeavesIn: Double?)
}

/// A journal that keeps nothing, for destinations that publish a unit in one atomic write.
public struct NoJournal: PublicationJournal {
    public init() {}
    public func sentMessages(postIDs: [Int64]) async throws -> [SentMessage] { [] }
    public func beginSend(postIDs: [Int64], step: Int) async throws {}
    public func recordSend(postIDs: [Int64], step: Int, chat: String, messages: [SentMessage]) async throws {}
    public func abandonSend(postIDs: [Int64], step: Int) async throws {}
    public func interruptedStep(postIDs: [Int64]) async throws -> Int? { nil }
    public func forgetSent(postID: Int64, step: Int, seq: Int) async throws {}
    public func recentSends(toChat chat: String) async throws -> (messages: Int, oldestLeavesIn: Double?) { (0, nil) }
}
