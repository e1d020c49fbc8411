import Core
import Foundation

/// `all`: fetch, translate-pending, publish and aggregate-analytics, in that order, checking for a stop
/// request between stages.
public struct Pipeline: Job {
    public static let name = "all"
    public static let stages: [any Job] = [FetchJob(), TranslatePendingJob(), PublishJob(), AggregateAnalyticsJob()]
    public static let counters = FetchJob.counters + TranslatePendingJob.counters + PublishJob.counters + AggregateAnalyticsJob.counters

    public init() {}

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        for stage in Self.stages {
            guard !context.stop.isStopRequested else { break }
            summary.merge(try await stage.run(context))
        }
        return summary
    }
}
