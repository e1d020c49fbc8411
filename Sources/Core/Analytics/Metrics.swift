import Foundation

/// The figures of one route (or of all routes, ``allRoutes``) over one period.
public struct Metrics: Sendable, Equatable, Codable {
    public var fetched = 0
    public var translated = 0
    public var published = 0
    /// Failed translation attempts, transient ones included.
    public var failed = 0
    public var parked = 0
    public var tmHits = 0
    public var requests = 0
    public var inputTokens = 0
    public var outputTokens = 0
    public var cacheWriteTokens = 0
    public var cacheReadTokens = 0
    public var costUSD = 0.0
    /// Seconds from the source post's time to its publication; `nil` when nothing was published.
    public var latencyP50: Double?
    public var latencyP95: Double?
    public var latencyMax: Double?

    public init() {}

    /// Share of translations served by the translation memory; `nil` when nothing was translated.
    public var tmHitRate: Double? {
        let total = tmHits + translated
        return total == 0 ? nil : Double(tmHits) / Double(total)
    }

    enum CodingKeys: String, CodingKey {
        case fetched, translated, published, failed, parked, requests
        case tmHits = "tm_hits"
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case cacheWriteTokens = "cache_write_tokens"
        case cacheReadTokens = "cache_read_tokens"
        case costUSD = "cost_usd"
        case latencyP50 = "latency_p50_s"
        case latencyP95 = "latency_p95_s"
        case latencyMax = "latency_max_s"
    }

    /// The route id that stands for all routes together in rollups and reports.
    public static let allRoutes: Int64 = 0

    /// Reads the columns named by ``CodingKeys`` from a row of ``MetricsQuery``.
    init(row: PostgresRow) throws {
        fetched = try row.decode("fetched")
        translated = try row.decode("translated")
        published = try row.decode("published")
        failed = try row.decode("failed")
        parked = try row.decode("parked")
        tmHits = try row.decode("tm_hits")
        requests = try row.decode("requests")
        inputTokens = try row.decode("input_tokens")
        outputTokens = try row.decode("output_tokens")
        cacheWriteTokens = try row.decode("cache_write_tokens")
        cacheReadTokens = try row.decode("cache_read_tokens")
        costUSD = try row.decode("cost_usd")
        latencyP50 = try row.decodeIfPresent("latency_p50_s")
        latencyP95 = try row.decodeIfPresent("latency_p95_s")
        latencyMax = try row.decodeIfPresent("latency_max_s")
    }
}

/// The one definition of every figure, computed straight from `mirror.events`; rollups store its results
/// and reports compute window totals with it, so the two can never disagree on what a number means.
///
/// An event names its route (`published`) or only its post (`fetched`, `translated`…): the latter counts
/// for every route that reads the post's chat, and, when the event names a language, translates into it.
/// Latency is measured on `published` events from the source post's own date.
enum MetricsQuery {
    /// Parameters: `$1` bucket starts as epoch seconds (`bigint[]`), `$2` bucket length in seconds.
    /// Columns: `bucket` (epoch seconds), `route_id`, and the metric columns.
    static let sql = """
        WITH buckets AS (
            SELECT to_timestamp(b) AS b FROM unnest($1::bigint[]) AS b
        ), ev AS (
            SELECT bk.b AS bucket, e.kind, e.route_id, e.post_id, e.detail, e.occurred_at
            FROM buckets bk
            JOIN mirror.events e ON e.occurred_at >= bk.b AND e.occurred_at < bk.b + make_interval(secs => $2)
        ), attributed AS (
            SELECT ev.*, ev.route_id AS rid FROM ev WHERE ev.route_id IS NOT NULL
            UNION ALL
            SELECT ev.*, r.id FROM ev
            JOIN mirror.posts p ON p.id = ev.post_id
            JOIN mirror.routes r ON r.source_chat_id = p.chat_id
                AND (ev.detail->>'target_lang' IS NULL OR r.target_lang = ev.detail->>'target_lang')
            WHERE ev.route_id IS NULL
            UNION ALL
            SELECT ev.*, 0 FROM ev
        ), measured AS (
            SELECT a.*, extract(epoch FROM a.occurred_at - p.posted_at)::float8 AS latency
            FROM attributed a
            LEFT JOIN mirror.posts p ON a.kind = 'published' AND p.id = a.post_id
        )
        SELECT extract(epoch FROM bucket)::bigint AS bucket, rid AS route_id,
            count(*) FILTER (WHERE kind = 'fetched')::int AS fetched,
            count(*) FILTER (WHERE kind = 'translated')::int AS translated,
            count(*) FILTER (WHERE kind = 'published')::int AS published,
            count(*) FILTER (WHERE kind = 'translation_failed')::int AS failed,
            count(*) FILTER (WHERE kind = 'parked')::int AS parked,
            count(*) FILTER (WHERE kind = 'tm_hit')::int AS tm_hits,
            COALESCE(sum((detail->>'requests')::int), 0)::int AS requests,
            COALESCE(sum((detail->>'input_tokens')::bigint), 0)::bigint AS input_tokens,
            COALESCE(sum((detail->>'output_tokens')::bigint), 0)::bigint AS output_tokens,
            COALESCE(sum((detail->>'cache_write_tokens')::bigint), 0)::bigint AS cache_write_tokens,
            COALESCE(sum((detail->>'cache_read_tokens')::bigint), 0)::bigint AS cache_read_tokens,
            COALESCE(sum((detail->>'cost_usd')::numeric), 0)::numeric(18, 6) AS cost_usd,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) AS latency_p50_s,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency) AS latency_p95_s,
            max(latency) AS latency_max_s
        FROM measured
        GROUP BY bucket, rid
        """

    static func bucketArray(_ starts: [Int64]) -> String {
        "{" + starts.map(String.init).joined(separator: ",") + "}"
    }
}
