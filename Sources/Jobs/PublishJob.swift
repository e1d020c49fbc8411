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
///
/// A destination that needs several calls per unit (Telegram) journals each call, so a reconciled unit
/// resumes with its next call. One whose last call was cut off without an answer is `uncertain`: by default
/// it is set aside for the operator (a duplicate is never risked), or sent again when the configuration
/// asks for it. A unit the destination refuses for good is set aside as `failed`; flood control that asks
/// for a longer wait than the run can afford rests the route until then (`retry_at`).
public struct PublishJob: Job {
    public static let name = "publish"
    public static let counters = ["published", "edits_published", "waiting", "parked", "in_flight", "set_aside", "resting", "publish_held"]
    let pageSize: Int
    let staleAfter: Duration
    /// How long the newest album of a source must be quiet before it is taken as complete.
    static let albumSettleTime: TimeInterval = 60
    /// How often a claim is refreshed while its unit is being sent; well under ``staleAfter``.
    static let heartbeatInterval: Duration = .seconds(20)
    static let refusalsBeforeStopping = 3

    public init(pageSize: Int = 200, staleAfter: Duration = .seconds(120)) {
        self.pageSize = pageSize
        self.staleAfter = staleAfter
    }

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        // This run's name in leases and claims: every write of a claim it holds is guarded by it.
        let claim = LeaseGuard.holderName()
        for (route, chatID) in try await context.store.routes() {
            guard !context.stop.isStopRequested else { break }
            let logger = context.logger.with("route", route.id)
            var routeSummary = JobSummary()
            do {
                // One run publishes a route at a time; an overlapping run skips it (B37).
                let outcome = try await LeaseGuard.with("publish:route:\(route.id)", holder: claim, store: context.store) {
                    try await publish(route: route, chatID: chatID, claim: claim, context: context, logger: logger)
                }
                switch outcome {
                case .success(let published): routeSummary.merge(published)
                case .failure(let held):
                    logger.notice(held.description)
                    routeSummary["publish_held"] += 1
                }
            } catch where isRouteLocal(error) {
                // One broken destination must not hold back the other routes.
                routeSummary.errors.append("route \(route.id) (\(route.spec.destination)): \(error)")
                logger.error("publish failed for a route", ["error": String(describing: error)])
            }
            summary.merge(routeSummary)
        }
        return summary
    }

    /// One route's run, under its lease.
    private func publish(route: Route, chatID: Int64, claim: String, context: JobContext, logger: Logger) async throws -> JobSummary {
        var routeSummary = JobSummary()
        if let until = try await context.store.routeRetryAt(routeID: route.id) {
            logger.notice("route resting after Telegram flood control", ["until": until.formatted(.iso8601)])
            routeSummary["resting"] += 1
            return routeSummary
        }
        let destination = try context.makeDestination(route.spec)
        let journal = context.store.journal(routeID: route.id, claim: claim)
        let work = RouteWork(route: route, chatID: chatID, destination: destination, journal: journal, claim: claim, context: context, logger: logger)
        do {
            try await reconcile(work, into: &routeSummary)
            try await publishEdits(work, into: &routeSummary)
            try await publishRoute(work, into: &routeSummary)
        } catch let lost as MirrorStore.ClaimLost {
            // An overlapping run owns the unit now; it finishes it, this run leaves the route to it.
            logger.notice("claim taken over by another run; route left to it", ["error": lost.description])
            routeSummary["in_flight"] += 1
        } catch let busy as DestinationBusy {
            // Not a failure: the next run after `until` resumes with the same unit, and nothing overtakes it.
            try await context.store.setRouteRetryAt(routeID: route.id, until: busy.until, reason: busy.reason)
            logger.notice("route resting", ["until": busy.until.formatted(.iso8601), "reason": busy.reason])
            routeSummary["resting"] += 1
        } catch where isRouteLocal(error) {
            // What was published before the failure still counts.
            routeSummary.errors.append("route \(route.id) (\(route.spec.destination)): \(error)")
            logger.error("publish failed for a route", ["error": String(describing: error)])
        }
        if routeSummary.errors.isEmpty { try await destination.finishRun(published: routeSummary["published"]) }
        return routeSummary
    }

    /// What one route's publishing needs, passed around as one value.
    struct RouteWork {
        var route: Route
        var chatID: Int64
        var destination: any Destination
        var journal: StoredPublicationJournal
        var claim: String
        var context: JobContext
        var logger: Logger
    }

    private func reconcile(_ work: RouteWork, into summary: inout JobSummary) async throws {
        let (route, context) = (work.route, work.context)
        var handled = Set<Int64>()
        for postID in try await context.store.interruptedPublications(routeID: route.id, olderThan: staleAfter) where !handled.contains(postID) {
            let unit = try await context.store.unitPostIDs(routeID: route.id, postID: postID)
            handled.formUnion(unit.postIDs)
            // Of two runs finding the same abandoned claim, only the one that takes it over settles it.
            guard try await context.store.takeOverClaim(routeID: route.id, postIDs: unit.postIDs, olderThan: staleAfter, claim: work.claim) else { continue }
            if try await settle(work, postIDs: unit.postIDs, key: unit.key, lastMessageID: unit.lastMessageID) {
                summary["set_aside"] += unit.postIDs.count
            }
        }
    }

    /// Resolves a unit whose outcome is unknown by asking the destination whether it arrived.
    ///
    /// - Returns: whether the unit was set aside as uncertain.
    @discardableResult
    private func settle(_ work: RouteWork, postIDs: [Int64], key: String, lastMessageID: Int64) async throws -> Bool {
        let (route, context, logger, claim) = (work.route, work.context, work.logger, work.claim)
        switch try await work.destination.findPublished(key: key, postIDs: postIDs, journal: work.journal) {
        case .arrived(let ids):
            try await context.store.markPublished(routeID: route.id, postIDs: postIDs, destinationIDs: ids, lastMessageID: lastMessageID, claim: claim)
            logger.notice("interrupted publication found in destination; recorded", ["unit": key])
        case .missing:
            try await context.store.clearPublishing(routeID: route.id, postIDs: postIDs, claim: claim)
            logger.notice("interrupted publication not (wholly) in destination; what is missing will be published", ["unit": key])
        case .unknown(let reason):
            if context.config.resendUncertain {
                try await context.store.clearPublishing(routeID: route.id, postIDs: postIDs, claim: claim)
                logger.warning("uncertain publication will be sent again (PUBLISH_UNCERTAIN=resend); it may appear twice", ["unit": key, "reason": reason])
            } else {
                try await context.store.markUncertain(routeID: route.id, postIDs: postIDs, reason: reason, claim: claim)
                logger.warning("uncertain publication set aside; check the channel, then `JobRunner retry` or `JobRunner skip`", ["unit": key, "reason": reason])
                return true
            }
        }
        return false
    }

    /// Shows the new version of published posts whose source was edited (and whose new translation exists).
    /// A post the destination refuses to edit is logged and left as it was; the others go on.
    private func publishEdits(_ work: RouteWork, into summary: inout JobSummary) async throws {
        let (route, chatID, destination, journal, context, logger) = (work.route, work.chatID, work.destination, work.journal, work.context, work.logger)
        for pending in try await context.store.pendingEdits(route: route, chatID: chatID) {
            guard !context.stop.isStopRequested else { return }
            let unit = PublicationUnit(routeID: route.id, targetLanguage: route.spec.targetLanguage, items: [pending.item])
            let postID = pending.item.postID
            guard try await context.store.claimEdit(routeID: route.id, postID: postID, revision: pending.revision, claim: work.claim, staleAfter: .seconds(600)) else {
                continue  // another run is editing it, or already has
            }
            do {
                let ids = try await destination.edit(unit, journal: journal)
                try await context.store.markEdited(routeID: route.id, postID: postID, revision: pending.revision, destinationIDs: ids, claim: work.claim)
                summary["edits_published"] += 1
            } catch let rejected as UnitRejected {
                try await context.store.markEdited(routeID: route.id, postID: postID, revision: pending.revision,
                                                   destinationIDs: try await journal.sentMessages(postIDs: [postID]).map { String($0.messageID) }, claim: work.claim)
                logger.error("destination refused the edit; the published version stays", ["message_id": pending.item.source.messageID, "reason": rejected.description])
            } catch {
                try? await context.store.releaseEdit(routeID: route.id, postID: postID, claim: work.claim)
                throw error
            }
        }
    }

    /// Counts go into `summary` as they happen, so a failure part-way still reports what was published.
    private func publishRoute(_ work: RouteWork, into summary: inout JobSummary) async throws {
        let (route, chatID, destination, journal, context, logger, claim) = (work.route, work.chatID, work.destination, work.journal, work.context, work.logger, work.claim)
        var refusedInARow = 0
        // Strict order: nothing past the first post that waits for the operator.
        let barrier = try await context.store.strictOrderBarrier(routeID: route.id, chatID: chatID, language: route.spec.targetLanguage)
        var cursor: Int64 = .min
        let progress = context.progress(Self.name, total: try await context.store.countUnpublished(routeID: route.id, chatID: chatID), unit: "posts")
        defer { progress.finish() }
        while !context.stop.isStopRequested {
            var page = try await context.store.unpublishedPosts(
                route: route, chatID: chatID, afterMessageID: cursor, limit: pageSize)
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
                if let barrier, unit.contains(where: { $0.post.messageID > barrier }) {
                    summary["waiting"] += unit.count
                    logger.notice("strict order: waiting at a post that is parked or set aside; `JobRunner retry` or `skip` it",
                                  ["message_id": barrier])
                    return
                }
                if unit.contains(where: { $0.parked }) {
                    summary["parked"] += unit.count
                    logger.warning("post parked after failed translations; skipped", ["message_id": unit[0].post.messageID])
                    continue
                }
                // B22: Telegram sends no "album complete" signal. The newest album of a live source is held
                // until a later post exists or its newest item is a minute old, so it never goes out cut.
                if unit.count >= 1, unit[0].post.albumID != nil, unit.last!.postID == page.last!.postID, page.count < pageSize,
                    let newest = unit.map(\.post.date).max(), Date().timeIntervalSince(newest) < Self.albumSettleTime {
                    summary["waiting"] += unit.count
                    logger.info("newest album may still be arriving; held until it settles", ["message_id": unit[0].post.messageID])
                    return
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
                guard try await context.store.markPublishing(routeID: route.id, postIDs: postIDs, claim: claim) else {
                    summary["in_flight"] += unit.count
                    logger.notice("unit claimed by another run; route paused here", ["message_id": unit[0].post.messageID])
                    return
                }
                let ids: [[String]]
                // A long upload or flood wait must not make the claim look abandoned to an overlapping run.
                let heartbeat = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.heartbeatInterval)
                        if Task.isCancelled { break }
                        try? await context.store.refreshClaim(routeID: route.id, postIDs: postIDs, claim: claim)
                    }
                }
                defer { heartbeat.cancel() }
                do {
                    ids = try await destination.publish(publication, journal: journal)
                    refusedInARow = 0
                } catch let rejected as UnitRejected {
                    try await context.store.markPublishFailed(routeID: route.id, postIDs: postIDs, reason: rejected.description, claim: claim)
                    logger.error("destination refused the unit; set aside for the operator", ["message_id": unit[0].post.messageID, "reason": rejected.description])
                    summary["set_aside"] += unit.count
                    refusedInARow += 1
                    if try await context.store.strictOrderBarrier(routeID: route.id, chatID: chatID, language: route.spec.targetLanguage) != nil { return }
                    // Refusal after refusal is the channel's setup, not the posts: stop before setting the backlog aside.
                    guard refusedInARow < Self.refusalsBeforeStopping else {
                        throw TelegramSetupError("the destination refused \(refusedInARow) posts in a row (last: \(rejected.description)); check the channel and the bot's rights, then `JobRunner retry` them")
                    }
                    continue
                } catch let error as MirrorStore.ClaimLost {
                    throw error
                } catch {
                    // Settle now rather than leaving the claim to go stale: the destination knows whether it arrived.
                    if (try? await settle(work, postIDs: postIDs, key: publication.key, lastMessageID: cursor)) == true {
                        summary["set_aside"] += unit.count
                        // An answer that never came is as likely the network as the post: stop for this run rather
                        // than set the whole backlog aside; the next run goes on after the set-aside unit.
                        if !(error is CancellationError) { return }
                    }
                    throw error
                }
                try await context.store.markPublished(routeID: route.id, postIDs: postIDs, destinationIDs: ids, lastMessageID: cursor, claim: claim)
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
