import Core
import Foundation

/// `publish`: sends translated, unpublished posts of every route to its destination, in source order.
///
/// Albums go out as one unit. Before the destination is touched the unit is committed as `publishing`; the
/// destination ids and `published` are committed right after. A unit found still `publishing` (the previous
/// run died in between) is looked up in the destination: if it arrived it is recorded, otherwise it is sent
/// again. A post waiting for its translation stops the route there, so nothing overtakes it; a post parked
/// after repeated translation failures is left for the operator and the route goes on.
///
/// Two overlapping runs never publish the same unit: marking `publishing` is a claim, and a run that finds
/// a unit claimed by another stops at it. A claim younger than ``staleAfter`` is assumed to belong to a run
/// still at work; an older one is treated as left by a crash and reconciled.
public struct PublishJob: Job {
    public static let name = "publish"
    public static let counters = ["published", "waiting", "parked", "in_flight"]
    let pageSize: Int
    let staleAfter: Duration

    public init(pageSize: Int = 200, staleAfter: Duration = .seconds(120)) {
        self.pageSize = pageSize
        self.staleAfter = staleAfter
    }

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        for (route, chatID) in try await context.store.routes() {
            guard !context.stop.isStopRequested else { break }
            let destination = context.makeDestination(route.spec.destination)
            let logger = context.logger.with("route", route.id)
            var routeSummary = JobSummary()
            do {
                try await reconcile(route: route, destination: destination, context: context, logger: logger)
                try await publishRoute(route, chatID: chatID, destination: destination, context: context, logger: logger, into: &routeSummary)
                try await destination.finishRun(published: routeSummary["published"])
            } catch where isRouteLocal(error) {
                // One broken destination must not hold back the other routes.
                routeSummary.errors.append("route \(route.id) (\(route.spec.destination)): \(error)")
                logger.error("publish failed for a route", ["error": String(describing: error)])
            }
            summary.merge(routeSummary)
        }
        return summary
    }

    private func reconcile(route: Route, destination: any Destination, context: JobContext, logger: Logger) async throws {
        var handled = Set<Int64>()
        for postID in try await context.store.interruptedPublications(routeID: route.id, olderThan: staleAfter) where !handled.contains(postID) {
            let unit = try await context.store.unitPostIDs(routeID: route.id, postID: postID)
            handled.formUnion(unit.postIDs)
            try await settle(route: route, postIDs: unit.postIDs, key: unit.key, lastMessageID: unit.lastMessageID, destination: destination, context: context, logger: logger)
        }
    }

    /// Resolves a unit whose outcome is unknown by asking the destination whether it arrived.
    private func settle(
        route: Route, postIDs: [Int64], key: String, lastMessageID: Int64, destination: any Destination, context: JobContext, logger: Logger
    ) async throws {
        if let ids = try await destination.findPublished(key: key) {
            try await context.store.markPublished(routeID: route.id, postIDs: postIDs, destinationIDs: ids, lastMessageID: lastMessageID)
            logger.notice("interrupted publication found in destination; recorded", ["unit": key])
        } else {
            try await context.store.clearPublishing(routeID: route.id, postIDs: postIDs)
            logger.notice("interrupted publication not in destination; will publish again", ["unit": key])
        }
    }

    /// Counts go into `summary` as they happen, so a failure part-way still reports what was published.
    private func publishRoute(
        _ route: Route, chatID: Int64, destination: any Destination, context: JobContext, logger: Logger, into summary: inout JobSummary
    ) async throws {
        var cursor: Int64 = .min
        let progress = context.progress(Self.name, total: try await context.store.countUnpublished(routeID: route.id, chatID: chatID), unit: "posts")
        defer { progress.finish() }
        while !context.stop.isStopRequested {
            var page = try await context.store.unpublishedPosts(
                route: route, chatID: chatID, afterMessageID: cursor, maxAttempts: TranslatePendingJob.maxAttempts, limit: pageSize)
            if page.isEmpty { break }
            // A full page may end inside an album; leave that album for the next page so it goes out whole.
            if page.count == pageSize, let album = page.last?.post.albumID, page.first?.post.albumID != album {
                page.removeLast(page.reversed().prefix { $0.post.albumID == album }.count)
            }
            for unit in Self.units(page) {
                guard !context.stop.isStopRequested else { return }
                cursor = unit.last!.post.messageID
                if unit.contains(where: { $0.inFlight }) {
                    summary["in_flight"] += unit.count
                    logger.notice("unit is being published by another run, or by one that stopped less than \(staleAfter) ago; route paused here",
                                  ["message_id": unit[0].post.messageID])
                    return
                }
                if unit.contains(where: { $0.parked }) {
                    summary["parked"] += unit.count
                    logger.warning("post parked after failed translations; skipped", ["message_id": unit[0].post.messageID])
                    continue
                }
                guard unit.allSatisfy({ $0.content != nil }) else {
                    summary["waiting"] += unit.count
                    logger.info("waiting for translation; route paused here", ["message_id": unit[0].post.messageID])
                    return
                }
                let publication = PublicationUnit(
                    routeID: route.id,
                    targetLanguage: route.spec.targetLanguage,
                    items: unit.map { .init(postID: $0.postID, source: $0.post, content: $0.content!) }
                )
                let postIDs = unit.map(\.postID)
                guard try await context.store.markPublishing(routeID: route.id, postIDs: postIDs) else {
                    summary["in_flight"] += unit.count
                    logger.notice("unit claimed by another run; route paused here", ["message_id": unit[0].post.messageID])
                    return
                }
                let ids: [String]
                do {
                    ids = try await destination.publish(publication)
                } catch {
                    // Settle now rather than leaving the claim to go stale: the destination knows whether it arrived.
                    try? await settle(route: route, postIDs: postIDs, key: publication.key, lastMessageID: cursor, destination: destination, context: context, logger: logger)
                    throw error
                }
                try await context.store.markPublished(routeID: route.id, postIDs: postIDs, destinationIDs: ids, lastMessageID: cursor)
                summary["published"] += unit.count
                progress.advance(by: unit.count)
            }
        }
    }

    /// Consecutive posts sharing an album id form one unit; every other post is a unit of its own.
    static func units(_ page: [MirrorStore.PendingPublication]) -> [[MirrorStore.PendingPublication]] {
        var units: [[MirrorStore.PendingPublication]] = []
        for item in page {
            if let album = item.post.albumID, let last = units.last?.last, last.post.albumID == album {
                units[units.count - 1].append(item)
            } else {
                units.append([item])
            }
        }
        return units
    }
}
