import Foundation

/// Rolls `mirror.events` into hourly and daily rollups, incrementally and idempotently.
///
/// A trigger writes a mark for the UTC hour of every event into `mirror.analytics_dirty_hours`, inside the
/// writer's transaction, so a mark becomes visible exactly when its events do. Each pass claims the marks of
/// some hours (`FOR UPDATE SKIP LOCKED`, so concurrent aggregators split them), recomputes those hours and
/// the days that hold them from the raw events, and replaces their rollup rows, all in one transaction.
/// Recomputing instead of adding is what makes a rerun change nothing and a late event land in its own
/// bucket. Before recomputing, a pass takes a transaction-scoped advisory lock per hour and per day, in
/// order; the recomputing statement starts after that, so whichever aggregator writes a bucket last has
/// read every event committed before the marks it claimed (no session locks: transaction poolers are fine).
public struct RollupAggregator: Sendable {
    /// Constants naming "analytics hour" and "analytics day" for the two-key `pg_advisory_xact_lock`.
    static let hourLockClass: Int32 = 0x6D69_7201
    static let dayLockClass: Int32 = 0x6D69_7202

    public struct Pass: Sendable, Equatable {
        public var hours = 0
        public var days = 0
    }

    let database: Database
    /// Marks claimed per pass (one per writing statement and hour), which bounds a pass's transaction.
    let marksPerPass: Int

    public init(database: Database, marksPerPass: Int = 10_000) {
        self.database = database
        self.marksPerPass = marksPerPass
    }

    /// Hours whose events are not rolled up yet.
    public func pendingHours() async throws -> Int {
        try await database.withConnection { conn in
            try conn.query("SELECT count(DISTINCT hour)::int AS n FROM mirror.analytics_dirty_hours").first!.decode("n")
        }
    }

    /// Claims and recomputes one batch of dirty hours; an empty pass means nothing was left to do.
    public func runPass() async throws -> Pass {
        try await database.transaction { conn in
            let hours: [Int64] = Array(Set(try conn.query("""
                WITH claimed AS (
                    SELECT id FROM mirror.analytics_dirty_hours ORDER BY hour, id LIMIT $1 FOR UPDATE SKIP LOCKED
                )
                DELETE FROM mirror.analytics_dirty_hours d USING claimed c WHERE d.id = c.id
                RETURNING extract(epoch FROM d.hour)::bigint AS hour
                """, [marksPerPass]).map { try $0.decode("hour", as: Int64.self) })).sorted()
            guard !hours.isEmpty else { return Pass() }
            for hour in hours {
                try conn.query("SELECT pg_advisory_xact_lock($1, $2)", [Self.hourLockClass, Int32(truncatingIfNeeded: hour / 3600)])
            }
            try Self.recompute(conn, granularity: "hour", starts: hours, seconds: 3600)

            let days = Set(hours.map { $0 - (($0 % 86400) + 86400) % 86400 }).sorted()
            for day in days {
                try conn.query("SELECT pg_advisory_xact_lock($1, $2)", [Self.dayLockClass, Int32(truncatingIfNeeded: day / 86400)])
            }
            // This statement starts after the locks are held, so its snapshot includes every event
            // committed by whoever held them before.
            try Self.recompute(conn, granularity: "day", starts: days, seconds: 86400)
            return Pass(hours: hours.count, days: days.count)
        }
    }

    /// Replaces the rollups of `starts` with figures computed from the events.
    static func recompute(_ conn: PostgresConnection, granularity: String, starts: [Int64], seconds: Int) throws {
        let array = MetricsQuery.bucketArray(starts)
        try conn.query("""
            DELETE FROM mirror.analytics_rollups
            WHERE granularity = $1 AND bucket_start IN (SELECT to_timestamp(b) FROM unnest($2::bigint[]) AS b)
            """, [granularity, array])
        try conn.query("""
            INSERT INTO mirror.analytics_rollups (granularity, bucket_start, route_id, fetched, translated, published, failed,
                parked, tm_hits, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd,
                latency_p50_s, latency_p95_s, latency_max_s)
            SELECT $3, to_timestamp(m.bucket), m.route_id, m.fetched, m.translated, m.published, m.failed,
                m.parked, m.tm_hits, m.requests, m.input_tokens, m.output_tokens, m.cache_write_tokens, m.cache_read_tokens, m.cost_usd,
                m.latency_p50_s, m.latency_p95_s, m.latency_max_s
            FROM (\(MetricsQuery.sql)) AS m
            """, [array, seconds, granularity])
    }

    /// Figures computed directly from the events of `[start, start + seconds)`, by route (``Metrics/allRoutes``
    /// for all together): what reports use for window totals, and what tests compare rollups against.
    public func computeDirect(start: Int64, seconds: Int) async throws -> [Int64: Metrics] {
        try await database.withConnection { conn in
            var result: [Int64: Metrics] = [:]
            for row in try conn.query(MetricsQuery.sql, [MetricsQuery.bucketArray([start]), seconds]) {
                result[try row.decode("route_id")] = try Metrics(row: row)
            }
            return result
        }
    }

    /// Stored rollups of one granularity from `start` on, by bucket start (epoch seconds) and route.
    public func rollups(granularity: String, from start: Int64, until end: Int64 = .max) async throws -> [Int64: [Int64: Metrics]] {
        try await database.withConnection { conn in
            var result: [Int64: [Int64: Metrics]] = [:]
            for row in try conn.query("""
                SELECT extract(epoch FROM bucket_start)::bigint AS bucket, route_id, fetched, translated, published, failed,
                    parked, tm_hits, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd,
                    latency_p50_s, latency_p95_s, latency_max_s
                FROM mirror.analytics_rollups
                WHERE granularity = $1 AND bucket_start >= to_timestamp($2) AND bucket_start < to_timestamp($3)
                ORDER BY bucket_start, route_id
                """, [granularity, start, min(end, 32_503_680_000)]) {
                result[try row.decode("bucket"), default: [:]][try row.decode("route_id")] = try Metrics(row: row)
            }
            return result
        }
    }
}
