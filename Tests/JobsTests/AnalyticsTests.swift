import Foundation
import Testing
import TestSupport

@testable import Core
@testable import Jobs

/// Rollups checked against an oracle written independently of the SQL: every event read back and counted
/// in Swift, percentiles by linear interpolation (the definition of `percentile_cont`).
@Suite struct AnalyticsTests {
    struct Event {
        var kind: String
        var routeID: Int64?
        var postID: Int64?
        var detail: [String: String]
        var at: Double
    }

    /// A seeded generator, so a failure can be replayed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }

    /// Expected figures per (bucket start, route) from the raw rows.
    static func oracle(database: Database, bucketSeconds: Double) async throws -> [String: Metrics] {
        let (events, posts, routes) = try await database.withConnection { conn in
            let events = try conn.query("""
                SELECT kind, route_id, post_id, detail::text AS detail, extract(epoch FROM occurred_at)::float8 AS at FROM mirror.events
                """).map { row in
                Event(kind: try row.decode("kind"), routeID: try row.decodeIfPresent("route_id"), postID: try row.decodeIfPresent("post_id"),
                      detail: try JSONDecoder().decode([String: String].self, from: Data((try row.decode("detail", as: String.self)).utf8)),
                      at: try row.decode("at"))
            }
            var posts: [Int64: (chat: Int64, postedAt: Double)] = [:]
            for row in try conn.query("SELECT id, chat_id, extract(epoch FROM posted_at)::float8 AS posted FROM mirror.posts") {
                posts[try row.decode("id")] = (try row.decode("chat_id"), try row.decode("posted"))
            }
            let routes = try conn.query("SELECT id, source_chat_id, target_lang FROM mirror.routes").map {
                (id: try $0.decode("id", as: Int64.self), chat: try $0.decode("source_chat_id", as: Int64.self), lang: try $0.decode("target_lang", as: String.self))
            }
            return (events, posts, routes)
        }
        var metrics: [String: Metrics] = [:]
        var latencies: [String: [Double]] = [:]
        for event in events {
            var owners: [Int64] = [0]
            if let route = event.routeID {
                owners.append(route)
            } else if let post = event.postID, let chat = posts[post]?.chat {
                owners += routes.filter { $0.chat == chat && (event.detail["target_lang"] == nil || event.detail["target_lang"] == $0.lang) }.map(\.id)
            }
            let bucket = Int64((event.at / bucketSeconds).rounded(.down) * bucketSeconds)
            for owner in owners {
                let key = "\(bucket)/\(owner)"
                var m = metrics[key] ?? Metrics()
                switch event.kind {
                case "fetched": m.fetched += 1
                case "translated": m.translated += 1
                case "published": m.published += 1
                case "translation_failed": m.failed += 1
                case "parked": m.parked += 1
                case "tm_hit": m.tmHits += 1
                default: break
                }
                m.requests += Int(event.detail["requests"] ?? "0")!
                m.inputTokens += Int(event.detail["input_tokens"] ?? "0")!
                m.outputTokens += Int(event.detail["output_tokens"] ?? "0")!
                m.cacheWriteTokens += Int(event.detail["cache_write_tokens"] ?? "0")!
                m.cacheReadTokens += Int(event.detail["cache_read_tokens"] ?? "0")!
                m.costUSD += Double(event.detail["cost_usd"] ?? "0")!
                if event.kind == "published", let post = event.postID, let postedAt = posts[post]?.postedAt {
                    latencies[key, default: []].append(event.at - postedAt)
                }
                metrics[key] = m
            }
        }
        for (key, values) in latencies {
            metrics[key]!.latencyP50 = percentile(values, 0.5)
            metrics[key]!.latencyP95 = percentile(values, 0.95)
            metrics[key]!.latencyMax = values.max()
        }
        return metrics
    }

    static func stored(_ database: Database, granularity: String) async throws -> [String: Metrics] {
        var result: [String: Metrics] = [:]
        for (bucket, routes) in try await RollupAggregator(database: database).rollups(granularity: granularity, from: 0) {
            for (route, m) in routes { result["\(bucket)/\(route)"] = m }
        }
        return result
    }

    static func expectEqual(_ stored: [String: Metrics], _ expected: [String: Metrics], _ label: String) {
        #expect(Set(stored.keys) == Set(expected.keys), "\(label): buckets")
        for (key, want) in expected {
            guard let got = stored[key] else { continue }
            var a = got, b = want
            #expect(abs(a.costUSD - b.costUSD) < 1e-6, "\(label) \(key): cost \(a.costUSD) vs \(b.costUSD)")
            for (x, y) in [(a.latencyP50, b.latencyP50), (a.latencyP95, b.latencyP95), (a.latencyMax, b.latencyMax)] {
                #expect((x == nil) == (y == nil) && abs((x ?? 0) - (y ?? 0)) < 1e-3, "\(label) \(key): latency \(String(describing: x)) vs \(String(describing: y))")
            }
            a.costUSD = 0; b.costUSD = 0
            a.latencyP50 = nil; a.latencyP95 = nil; a.latencyMax = nil
            b.latencyP50 = nil; b.latencyP95 = nil; b.latencyMax = nil
            #expect(a == b, "\(label) \(key)")
        }
    }

    /// Inserts `count` random events spread over the last `hours` hours, as several writers would.
    static func insertRandomEvents(_ database: Database, count: Int, hours: Int, posts: [Int64], routes: [Int64], rng: inout SplitMix) async throws {
        let kinds = ["fetched", "translated", "translated", "published", "published", "translation_failed", "parked", "tm_hit", "retried"]
        var rows: [(String, Int64?, Int64, String, Double)] = []
        for _ in 0..<count {
            let kind = kinds.randomElement(using: &rng)!
            var detail: [String: String] = [:]
            if ["translated", "translation_failed", "parked", "tm_hit"].contains(kind) {
                detail["target_lang"] = ["en", "de"].randomElement(using: &rng)!
            }
            if kind == "translated" || kind == "translation_failed" {
                let usage = TokenUsage(inputTokens: Int.random(in: 100...3000, using: &rng), outputTokens: Int.random(in: 0...800, using: &rng),
                                       cacheWriteTokens: Int.random(in: 0...2000, using: &rng), cacheReadTokens: Int.random(in: 0...9000, using: &rng),
                                       requests: Int.random(in: 1...3, using: &rng), costUSD: Double(Int.random(in: 0...900, using: &rng)) / 1_000_000)
                detail.merge(usage.eventDetail) { $1 }
            }
            let route: Int64? = kind == "published" || kind == "retried" ? routes.randomElement(using: &rng)! : nil
            let secondsAgo = Double(Int.random(in: 0..<(hours * 3600), using: &rng))
            rows.append((kind, route, posts.randomElement(using: &rng)!, String(decoding: try JSONEncoder().encode(detail), as: UTF8.self), secondsAgo))
        }
        // Several statements, so the trigger fires per statement as with real writers.
        for chunk in stride(from: 0, to: rows.count, by: 25) {
            let slice = rows[chunk..<min(chunk + 25, rows.count)]
            try await database.transaction { conn in
                for row in slice {
                    try conn.query("""
                        INSERT INTO mirror.events (kind, route_id, post_id, detail, occurred_at)
                        VALUES ($1, $2, $3, $4::jsonb, now() - make_interval(secs => $5))
                        """, [row.0, row.1, row.2, row.3, row.4])
                }
            }
        }
    }

    @Test func rollupsEqualADirectCountAfterRandomInterleavingsOfRunsAndWriters() async throws {
        try await Harness.with { h in
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            // A second route on the same channel in another language, so attribution by language matters.
            let store = MirrorStore(database: h.database)
            let (first, chatID) = try await store.routes()[0]
            let second = try await store.upsertRoute(
                RouteSpec(source: first.spec.source, destination: .files(directory: h.output.path + "-de"), targetLanguage: LanguageCode("de")!), chatID: chatID)
            let posts = try await h.database.withConnection { conn in try conn.query("SELECT id FROM mirror.posts").map { try $0.decode("id", as: Int64.self) } }

            var rng = SplitMix(state: 20_261_203)
            for _ in 0..<8 {
                try await Self.insertRandomEvents(h.database, count: 120, hours: 72, posts: posts, routes: [first.id, second.id], rng: &rng)
                // Two aggregators at once with small batches, each stopping after a random number of passes,
                // while a writer adds late events to hours that were already rolled up.
                let passesA = Int.random(in: 0...6, using: &rng), passesB = Int.random(in: 0...6, using: &rng)
                var writerRNG = SplitMix(state: rng.next())
                async let a: Void = { for _ in 0..<passesA { _ = try await RollupAggregator(database: Database(try ConnectionString(h.url), logger: Logger(level: .error)), marksPerPass: 5).runPass() } }()
                async let b: Void = { for _ in 0..<passesB { _ = try await RollupAggregator(database: Database(try ConnectionString(h.url), logger: Logger(level: .error)), marksPerPass: 7).runPass() } }()
                let writer = Database(try ConnectionString(h.url), logger: Logger(level: .error))
                try await Self.insertRandomEvents(writer, count: 30, hours: 72, posts: posts, routes: [first.id, second.id], rng: &writerRNG)
                _ = try await (a, b)

            }
            async let a: Void = { while try await RollupAggregator(database: Database(try ConnectionString(h.url), logger: Logger(level: .error)), marksPerPass: 4).runPass().hours > 0 {} }()
            async let b: Void = { while try await RollupAggregator(database: Database(try ConnectionString(h.url), logger: Logger(level: .error)), marksPerPass: 9).runPass().hours > 0 {} }()
            _ = try await (a, b)

            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.analytics_dirty_hours") == 0)
            let hourly = try await Self.stored(h.database, granularity: "hour")
            let daily = try await Self.stored(h.database, granularity: "day")
            Self.expectEqual(hourly, try await Self.oracle(database: h.database, bucketSeconds: 3600), "hour")
            Self.expectEqual(daily, try await Self.oracle(database: h.database, bucketSeconds: 86400), "day")
            // Sanity of the oracle itself: 10 posts fetched once each, counted for both routes of the channel.
            let fetchedByRoute = try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'fetched'")
            #expect(daily.filter { $0.key.hasSuffix("/\(second.id)") }.values.map(\.fetched).reduce(0, +) == fetchedByRoute)

            // A rerun finds nothing to do and changes nothing.
            let before = try await h.database.withConnection { conn in
                try conn.query("SELECT md5(string_agg(r::text, ',' ORDER BY granularity, bucket_start, route_id)) AS h FROM (SELECT granularity, bucket_start, route_id, fetched, translated, published, failed, parked, tm_hits, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, latency_p50_s, latency_p95_s, latency_max_s FROM mirror.analytics_rollups) r").first!.decode("h", as: String.self)
            }
            let summary = try await AggregateAnalyticsJob().run(try h.context(export: Paths.sampleExport))
            #expect(summary["rollup_hours"] == 0 && summary["rollup_days"] == 0)
            let after = try await h.database.withConnection { conn in
                try conn.query("SELECT md5(string_agg(r::text, ',' ORDER BY granularity, bucket_start, route_id)) AS h FROM (SELECT granularity, bucket_start, route_id, fetched, translated, published, failed, parked, tm_hits, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, latency_p50_s, latency_p95_s, latency_max_s FROM mirror.analytics_rollups) r").first!.decode("h", as: String.self)
            }
            #expect(before == after)
        }
    }

    @Test func aLateEventLandsInItsOwnHourAndDay() async throws {
        try await Harness.with { h in
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            let route = try await MirrorStore(database: h.database).routes()[0].route.id
            let post = try await h.count("SELECT min(id)::int AS n FROM mirror.posts")
            // Written now, stamped 3 days ago (a writer whose clock or transaction lagged).
            let hour: Int64 = try await h.database.withConnection { conn in
                try conn.query("""
                    INSERT INTO mirror.events (kind, route_id, post_id, occurred_at) VALUES ('published', $1, $2, date_trunc('hour', now()) - interval '71 hours 30 minutes')
                    RETURNING extract(epoch FROM date_trunc('hour', occurred_at, 'UTC'))::bigint AS hour
                    """, [route, post]).first!.decode("hour")
            }
            let pass = try await RollupAggregator(database: h.database).runPass()
            #expect(pass == RollupAggregator.Pass(hours: 1, days: 1))
            let stored = try await RollupAggregator(database: h.database).rollups(granularity: "hour", from: hour, until: hour + 1)
            #expect(stored[hour]?[route]?.published == 1)
            #expect(stored[hour]?[Metrics.allRoutes]?.published == 1)
            #expect(stored[hour]?[route]?.fetched == 0)
        }
    }

    @Test func reportNumbersMatchTheDatabase() async throws {
        try await Harness.with { h in
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            let report = try await AnalyticsReport.build(database: h.database, window: .seconds(7 * 86400))
            let total = report.total()
            // The sample export: 10 posts fetched, 6 with words translated, 10 published, nothing failed.
            #expect(total.fetched == 10 && total.translated == 6 && total.published == 10 && total.failed == 0)
            #expect(total.fetched == (try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'fetched'")))
            #expect(total.published == (try await h.count("SELECT count(*)::int AS n FROM mirror.publications WHERE state = 'published'")))
            // Every bucket of all routes adds up to the totals; 8 daily buckets (7 days back to midnight, and today).
            #expect(report.granularity == "day" && report.overall.count == 8)
            #expect(report.overall.map(\.metrics.published).reduce(0, +) == total.published)
            // Latency is measured from the post's own date: the sample's posts are from 2024, so well over a year.
            let oldest = try await h.database.withConnection { conn in
                try conn.query("SELECT max(extract(epoch FROM e.occurred_at - p.posted_at))::float8 AS s FROM mirror.events e JOIN mirror.posts p ON p.id = e.post_id WHERE e.kind = 'published'").first!.decode("s", as: Double.self)
            }
            #expect(abs((total.latencyMax ?? 0) - oldest) < 1e-3)

            let json = try JSONSerialization.jsonObject(with: Data(try ReportFormat.json.render(report).utf8)) as! [String: Any]
            let totals = (json["totals"] as! [[String: Any]]).first { ($0["route_id"] as! Int) == 0 }!["metrics"] as! [String: Any]
            #expect(totals["published"] as? Int == 10 && totals["translated"] as? Int == 6)

            let csv = try ReportFormat.csv.render(report).split(separator: "\n")
            #expect(csv[0].hasPrefix("bucket_start,route_id,fetched,translated,published,failed"))
            #expect(csv.count == 1 + 8 * 2)
            let publishedColumn = csv[0].split(separator: ",").firstIndex(of: "published")!
            #expect(csv.dropFirst().filter { $0.split(separator: ",", omittingEmptySubsequences: false)[1] == "0" }
                .map { Int($0.split(separator: ",", omittingEmptySubsequences: false)[publishedColumn])! }.reduce(0, +) == 10)

            let html = try ReportFormat.html.render(report)
            #expect(html.hasPrefix("<!doctype html>"))
            #expect(html.contains("<b>10</b><span>published</span>") && html.contains("<b>6</b><span>translated</span>"))
            #expect(html.components(separatedBy: "<svg ").count - 1 == 4)
            #expect(!html.contains("<script") && !html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))

            let table = try ReportFormat.table.render(report)
            #expect(table.contains("total"))
        }
    }
}
