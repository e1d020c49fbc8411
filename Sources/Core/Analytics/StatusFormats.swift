import Foundation

extension StatusSnapshot {
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The operator's view: one block per route, then the jobs.
    public func text() -> String {
        let age: (Date) -> String = { Format.duration(max(0, generatedAt.timeIntervalSince($0))) + " ago" }
        var out = "status at \(Format.timestamp(generatedAt))\n"
        if routes.isEmpty { out += "\nno routes yet: run `JobRunner fetch` (or `all`) with SRC_CHANNEL, DST_CHANNEL and TARGET_LANG set\n" }
        for route in routes {
            out += "\nroute #\(route.id) \(route.source) -> \(route.destination) (\(route.targetLanguage))\(route.enabled ? "" : " [disabled]")\n"
            out += "  fetch      through message \(route.fetchedThroughMessageID.map(String.init) ?? "-")"
            out += route.lastFetchAt.map { ", offset moved \(age($0))" } ?? ", never fetched"
            out += "\n"
            out += "  translate  \(route.awaitingTranslation) waiting, \(route.parked.count) parked\n"
            out += "  publish    \(route.awaitingPublication) ready, \(route.published) published, \(route.skipped) skipped, \(route.publishing.count) publishing"
            out += route.setAside.isEmpty ? "\n" : ", \(route.setAside.count) set aside (every one listed below)\n"
            if let seconds = route.oldestWaitingSeconds, let post = route.oldestWaitingPostID {
                out += "  oldest waiting post: \(post), fetched \(Format.duration(seconds)) ago\n"
            }
            for post in route.parked {
                out += "  parked post \(post.postID) (message \(post.messageID)) after \(post.attempts ?? 0) attempt\((post.attempts ?? 0) == 1 ? "" : "s"), \(age(post.since)): \(post.reason ?? "")\n"
            }
            if !route.parked.isEmpty {
                out += "    `JobRunner retry POST_ID` tries a parked post again; `JobRunner skip POST_ID` gives it up\n"
            }
            for post in route.publishing {
                out += "  publishing post \(post.postID) (message \(post.messageID)) since \(age(post.since))\n"
            }
            for post in route.setAside {
                out += "  set aside post \(post.postID) (message \(post.messageID)), \(age(post.since)): \(post.reason ?? "")\n"
            }
            if !route.setAside.isEmpty {
                out += "    check the channel: `JobRunner retry POST_ID` sends what is missing again; `JobRunner skip POST_ID` accepts it as it is\n"
            }
            if let until = route.restingUntil {
                out += "  resting until \(Format.timestamp(until)): \(route.restingReason ?? "flood control")\n"
            }
            if route.gaps > 0 {
                out += "  \(route.gaps) message id(s) never seen in the source (gaps): \(route.gapRanges.prefix(20).joined(separator: ", "))\(route.gapRanges.count > 20 ? ", …" : "")\n"
            }
        }
        out += "\njobs (last run of each):\n"
        if jobs.isEmpty { out += "  none recorded yet\n" }
        for run in jobs {
            let state: String
            if let finished = run.finishedAt {
                state = "\(run.outcome ?? "?") \(age(finished)), took \(Format.duration(finished.timeIntervalSince(run.startedAt)))"
            } else {
                state = "started \(age(run.startedAt)), not finished (running, or stopped without a trace)"
            }
            out += "  \(run.job.padding(toLength: 20, withPad: " ", startingAt: 0)) \(state) on \(run.host) pid \(run.pid)"
            if let summary = run.summary, !summary.isEmpty { out += " [\(summary)]" }
            if let error = run.error { out += " error: \(error)" }
            out += "\n"
        }
        if !leases.isEmpty {
            out += "\nleases (work in progress):\n"
            for lease in leases { out += "  \(lease.name) held by \(lease.holder) until \(Format.timestamp(lease.expiresAt))\n" }
        }
        if !messageBatches.isEmpty {
            out += "\nmessage batches (submitted, collected by the next translate-pending after they end, within 24 h):\n"
            for batch in messageBatches {
                out += "  \(batch.id): \(batch.posts) posts into \(batch.targetLanguage), submitted \(age(batch.submittedAt))\n"
            }
        }
        out += "\nanalytics: \(analyticsPendingHours == 0 ? "rollups up to date" : "\(analyticsPendingHours) hour(s) not rolled up yet; run `JobRunner aggregate-analytics`")\n"
        return out
    }
}
