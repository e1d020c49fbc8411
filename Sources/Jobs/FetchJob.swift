import Core
import Foundation

/// `fetch`: imports posts newer than each source's stored offset, and edits of posts already imported.
///
/// The configured default route is registered first (its channel id comes from the source itself), then
/// every distinct source of the enabled routes is read once. Posts are stored in chunks, each chunk and the
/// offset it reaches committed together, so an interrupted fetch resumes where it stopped. `botapi:` sources
/// share the bot's one update queue: it is read once per run for all of them, each page stored with the
/// next update offset in one transaction.
public struct FetchJob: Job {
    public static let name = "fetch"
    public static let counters = ["fetched", "edited", "fetch_held"]
    /// Telegram keeps undelivered updates 24 hours; warn well before that.
    public static let updateGapWarning: TimeInterval = 20 * 3600
    let chunkSize: Int
    let maxUpdatePages: Int

    public init(chunkSize: Int = 500, maxUpdatePages: Int = 50) {
        self.chunkSize = chunkSize
        self.maxUpdatePages = maxUpdatePages
    }

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        let holder = LeaseGuard.holderName()
        var done = Set<Int64>()
        var botChats: [String: Int64] = [:]
        // Reading the bot's updates confirms them for every chat: never do it while a botapi: chat is unknown.
        var botChatUnresolved = false
        let defaultSpec = context.config.defaultRoute
        do {
            if case .botAPI(let chat) = defaultSpec.source {
                let chatID = try await context.updateFeed().resolve(chat)
                _ = try await context.store.upsertRoute(defaultSpec, chatID: chatID, strictOrder: context.config.strictOrder)
                botChats[chat] = chatID
                done.insert(chatID)
            } else {
                var chatID: Int64?
                let leased = try await LeaseGuard.with("fetch:\(defaultSpec.source)", holder: holder, store: context.store) {
                    let batch = try await fetchNew(defaultSpec.source, context: context)
                    _ = try await context.store.upsertRoute(defaultSpec, chatID: batch.chatID, strictOrder: context.config.strictOrder)
                    chatID = batch.chatID
                    var part = JobSummary()
                    try await store(batch, context: context, into: &part)
                    return part
                }
                record(leased, into: &summary, logger: context.logger)
                if let chatID { done.insert(chatID) }
            }
        } catch where isRouteLocal(error) {
            if case .botAPI = defaultSpec.source { botChatUnresolved = true }
            summary.errors.append("default route (\(defaultSpec.source)): \(error)")
            context.logger.error("fetch failed for the default route", ["source": defaultSpec.source, "error": String(describing: error)])
        }

        for (route, chatID) in try await context.store.routes() where !done.contains(chatID) {
            guard !context.stop.isStopRequested else { break }
            done.insert(chatID)
            if case .botAPI(let chat) = route.spec.source {
                botChats[chat] = chatID
                continue
            }
            // An export is a snapshot: once its file is gone, the route keeps what it imported and has
            // nothing new to fetch. Only the configured default route must point at an existing export.
            if case .desktopExport(let path) = route.spec.source, !FileManager.default.fileExists(atPath: path) {
                context.logger.warning("export of a stored route is gone; nothing to fetch for it", ["route": route.id, "source": route.spec.source])
                continue
            }
            do {
                let leased = try await LeaseGuard.with("fetch:\(route.spec.source)", holder: holder, store: context.store) {
                    var part = JobSummary()
                    try await store(try await fetchNew(route.spec.source, context: context), context: context, into: &part)
                    return part
                }
                record(leased, into: &summary, logger: context.logger)
            } catch where isRouteLocal(error) {
                summary.errors.append("route \(route.id) (\(route.spec.source)): \(error)")
                context.logger.error("fetch failed for a route", ["route": route.id, "error": String(describing: error)])
            }
        }

        if !botChats.isEmpty, !botChatUnresolved, !context.stop.isStopRequested {
            do {
                // Telegram gives each update to one consumer: one run reads the bot's queue at a time (B37).
                let feed = try context.updateFeed()
                let leased = try await LeaseGuard.with("fetch:\(feed.cursorKey)", holder: holder, store: context.store) {
                    var part = JobSummary()
                    try await fetchUpdates(chats: botChats, context: context, into: &part)
                    return part
                }
                record(leased, into: &summary, logger: context.logger)
            } catch where isRouteLocal(error) {
                summary.errors.append("bot updates (\(botChats.keys.sorted().joined(separator: ", "))): \(error)")
                context.logger.error("fetch failed for the bot's updates", ["error": String(describing: error)])
            }
        }
        return summary
    }

    /// What a fetch under a lease did, or that another run holds the lease.
    private func record(_ leased: Result<JobSummary, HeldElsewhere>, into summary: inout JobSummary, logger: Logger) {
        switch leased {
        case .success(let part): summary.merge(part)
        case .failure(let held):
            logger.notice(held.description)
            summary["fetch_held"] += 1
        }
    }

    private func fetchNew(_ spec: SourceSpec, context: JobContext) async throws -> SourceBatch {
        let source = try context.makeSource(spec)
        if let chatID = source.knownChatID {
            return try await source.fetch(after: try await context.store.offset(chatID: chatID))
        }
        // The export names its channel only inside the file, so read it once to learn the id and offset.
        let whole = try await source.fetch(after: nil)
        let offset = try await context.store.offset(chatID: whole.chatID)
        guard let offset else { return whole }
        var batch = whole
        // A newer export carries edits of posts imported before; only changed texts count, in the store.
        batch.edits = whole.posts.filter { $0.messageID <= offset && $0.editDate != nil }
        batch.posts.removeAll { $0.messageID <= offset }
        return batch
    }

    private func store(_ batch: SourceBatch, context: JobContext, into summary: inout JobSummary) async throws {
        let logger = context.logger.with("chat", batch.chatID)
        for warning in batch.warnings { logger.warning(warning) }
        if !batch.edits.isEmpty {
            summary["edited"] += try await context.store.importEdits(batch.edits)
        }
        if !batch.gaps.isEmpty {
            try await context.store.recordGaps(chatID: batch.chatID, ranges: batch.gaps)
            logger.warning("message ids missing from the source; recorded as gaps (see status)",
                           ["ids": batch.gaps.map { $0.count }.reduce(0, +), "ranges": batch.gaps.count])
        }
        guard let lastMessageID = batch.lastMessageID else { return }
        var inserted = 0
        var storedOffset = lastMessageID
        var start = 0
        repeat {
            guard !context.stop.isStopRequested else { break }
            let end = min(start + chunkSize, batch.posts.count)
            let chunk = Array(batch.posts[start..<end])
            // A chunk's offset is its last post; the final chunk also covers trailing service messages.
            let offset = end == batch.posts.count ? lastMessageID : chunk.last!.messageID
            let result = try await context.store.importPosts(chunk, chatID: batch.chatID, newOffset: offset)
            inserted += result.inserted
            storedOffset = result.offset
            start = end
        } while start < batch.posts.count
        summary["fetched"] += inserted
        logger.info("source fetched", ["title": batch.title, "new_posts": inserted, "offset": storedOffset])
    }

    private func fetchUpdates(chats: [String: Int64], context: JobContext, into summary: inout JobSummary) async throws {
        let feed = try context.updateFeed()
        let stored = try await context.store.cursor(feed.cursorKey)
        if let stored, Date().timeIntervalSince(stored.lastSuccess) > Self.updateGapWarning {
            context.logger.warning("the bot's updates were last read over 20 hours ago; Telegram keeps them 24 hours, so posts older than that are lost to the Bot API reader",
                                   ["last_success": stored.lastSuccess.formatted(.iso8601)])
        }
        var offset = stored?.value
        for _ in 0..<maxUpdatePages {
            guard !context.stop.isStopRequested else { break }
            let page = try await feed.page(offset: offset, chats: chats)
            for warning in page.warnings { context.logger.warning(warning) }
            let next = page.nextOffset ?? offset ?? 0
            let result = try await context.store.importUpdates(page.batches, cursor: feed.cursorKey, nextOffset: next)
            summary["fetched"] += result.inserted
            summary["edited"] += result.edited
            if result.inserted > 0 || result.edited > 0 {
                context.logger.info("bot updates fetched", ["new_posts": result.inserted, "edited": result.edited, "offset": next])
            }
            guard page.nextOffset != nil, next != offset else { break }
            offset = next
        }
    }
}
