import Core
import Foundation

/// `fetch`: imports posts newer than each source's stored offset.
///
/// The configured default route is registered first (its channel id comes from the source itself), then
/// every distinct source of the enabled routes is read once. Posts are stored in chunks, each chunk and the
/// offset it reaches committed together, so an interrupted fetch resumes where it stopped.
public struct FetchJob: Job {
    public static let name = "fetch"
    public static let counters = ["fetched"]
    let chunkSize: Int

    public init(chunkSize: Int = 500) {
        self.chunkSize = chunkSize
    }

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        var done = Set<Int64>()
        let defaultSpec = context.config.defaultRoute
        do {
            let batch = try await fetchNew(defaultSpec.source, context: context)
            _ = try await context.store.upsertRoute(defaultSpec, chatID: batch.chatID)
            summary["fetched"] += try await store(batch, context: context)
            done.insert(batch.chatID)
        } catch where isRouteLocal(error) {
            summary.errors.append("default route (\(defaultSpec.source)): \(error)")
            context.logger.error("fetch failed for the default route", ["source": defaultSpec.source, "error": String(describing: error)])
        }

        for (route, chatID) in try await context.store.routes() where !done.contains(chatID) {
            guard !context.stop.isStopRequested else { break }
            done.insert(chatID)
            // An export is a snapshot: once its file is gone, the route keeps what it imported and has
            // nothing new to fetch. Only the configured default route must point at an existing export.
            if case .desktopExport(let path) = route.spec.source, !FileManager.default.fileExists(atPath: path) {
                context.logger.warning("export of a stored route is gone; nothing to fetch for it", ["route": route.id, "source": route.spec.source])
                continue
            }
            do {
                let batch = try await fetchNew(route.spec.source, context: context)
                summary["fetched"] += try await store(batch, context: context)
            } catch where isRouteLocal(error) {
                summary.errors.append("route \(route.id) (\(route.spec.source)): \(error)")
                context.logger.error("fetch failed for a route", ["route": route.id, "error": String(describing: error)])
            }
        }
        return summary
    }

    private func fetchNew(_ spec: SourceSpec, context: JobContext) async throws -> SourceBatch {
        let source = context.makeSource(spec)
        // The export names its channel only inside the file, so read it once to learn the id and offset.
        let whole = try await source.fetch(after: nil)
        let offset = try await context.store.offset(chatID: whole.chatID)
        guard let offset else { return whole }
        var batch = whole
        batch.posts.removeAll { $0.messageID <= offset }
        return batch
    }

    private func store(_ batch: SourceBatch, context: JobContext) async throws -> Int {
        let logger = context.logger.with("chat", batch.chatID)
        for warning in batch.warnings { logger.warning(warning) }
        guard let lastMessageID = batch.lastMessageID else { return 0 }
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
        logger.info("source fetched", ["title": batch.title, "new_posts": inserted, "offset": storedOffset])
        return inserted
    }
}
