import Foundation

/// The figures of `JobRunner report`: one bucket per day (or per hour for windows up to two days) from the
/// rollups, and window totals computed from the events themselves.
///
/// The window starts at a bucket boundary, so bucket counts add up to the totals exactly.
public struct AnalyticsReport: Sendable, Codable {
    public var generatedAt: Date
    public var since: Date
    public var until: Date
    public var granularity: String
    public var routes: [Route]
    /// Every bucket of the window for every route, zeros included, oldest first; route 0 is all routes.
    public var buckets: [Bucket]
    public var totals: [Total]

    public struct Route: Sendable, Codable {
        public var id: Int64
        public var source: String
        public var destination: String
        public var targetLanguage: String
    }

    public struct Bucket: Sendable, Codable {
        public var start: Date
        public var routeID: Int64
        public var metrics: Metrics
    }

    public struct Total: Sendable, Codable {
        public var routeID: Int64
        public var metrics: Metrics
    }

    /// Buckets of all routes together, in order.
    public var overall: [Bucket] { buckets.filter { $0.routeID == Metrics.allRoutes } }

    public func total(route: Int64 = Metrics.allRoutes) -> Metrics {
        totals.first { $0.routeID == route }?.metrics ?? Metrics()
    }

    /// Brings the rollups up to date, then reads the window `[now - window, now)`, widened back to a bucket boundary.
    public static func build(database: Database, window: Duration) async throws -> AnalyticsReport {
        let aggregator = RollupAggregator(database: database)
        while try await aggregator.runPass().hours > 0 {}

        let (now, routes): (Int64, [Route]) = try await database.withConnection { conn in
            let now: Int64 = try conn.query("SELECT floor(extract(epoch FROM now()))::bigint AS now").first!.decode("now")
            let routes = try conn.query("SELECT id, source, destination, target_lang FROM mirror.routes ORDER BY id").map { row in
                Route(id: try row.decode("id"), source: try row.decode("source"), destination: try row.decode("destination"),
                      targetLanguage: try row.decode("target_lang"))
            }
            return (now, routes)
        }
        let windowSeconds = window.components.seconds
        let step: Int64 = windowSeconds <= 2 * 86400 ? 3600 : 86400
        let start = (now - windowSeconds) - ((now - windowSeconds) % step + step) % step
        let stored = try await aggregator.rollups(granularity: step == 3600 ? "hour" : "day", from: start, until: now + 1)
        let routeIDs = [Metrics.allRoutes] + routes.map(\.id)
        var buckets: [Bucket] = []
        for bucket in stride(from: start, through: now, by: Int(step)) {
            for route in routeIDs {
                buckets.append(Bucket(start: Date(timeIntervalSince1970: Double(bucket)), routeID: route, metrics: stored[bucket]?[route] ?? Metrics()))
            }
        }
        let direct = try await aggregator.computeDirect(start: start, seconds: Int(now + 1 - start))
        return AnalyticsReport(
            generatedAt: Date(timeIntervalSince1970: Double(now)),
            since: Date(timeIntervalSince1970: Double(start)),
            until: Date(timeIntervalSince1970: Double(now)),
            granularity: step == 3600 ? "hour" : "day",
            routes: routes,
            buckets: buckets,
            totals: routeIDs.map { Total(routeID: $0, metrics: direct[$0] ?? Metrics()) })
    }
}
