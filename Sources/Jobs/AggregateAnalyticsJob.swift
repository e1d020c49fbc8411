import Core
import Foundation

/// `aggregate-analytics`: rolls new events into hourly and daily rollups per route, until none are left.
///
/// Incremental (only hours with new events are recomputed), idempotent (a rerun recomputes nothing, and
/// a recomputed hour gets the same figures) and safe to run concurrently (see ``RollupAggregator``).
public struct AggregateAnalyticsJob: Job {
    public static let name = "aggregate-analytics"
    public static let counters = ["rollup_hours", "rollup_days"]

    public init() {}

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        let aggregator = RollupAggregator(database: context.store.database)
        let total = try await aggregator.pendingHours()
        let progress = context.progress(Self.name, total: total, unit: "hours")
        while !context.stop.isStopRequested {
            let pass = try await aggregator.runPass()
            if pass.hours == 0 { break }
            summary["rollup_hours"] += pass.hours
            summary["rollup_days"] += pass.days
            progress.advance(by: pass.hours)
        }
        progress.finish()
        return summary
    }
}
