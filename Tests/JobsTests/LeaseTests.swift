import Foundation
import Testing
import TestSupport

@testable import Core
@testable import Jobs

/// One run at a time works on a source or a route (B36, B37): an overlapping run skips it, cleanly.
@Suite struct LeaseTests {
    @Test func aLeaseIsHeldUntilItExpiresThenTakenOverOnceWithAnEvent() async throws {
        try await Harness.with { h in
            let store = MirrorStore(database: h.database)
            #expect(try await store.acquireLease("publish:route:1", holder: "A", ttl: .seconds(60)) == nil)
            let held = try #require(try await store.acquireLease("publish:route:1", holder: "B", ttl: .seconds(60)))
            #expect(held.holder == "A")
            #expect(try await store.acquireLease("publish:route:1", holder: "A", ttl: .seconds(60)) == nil)  // its holder renews it
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.leases SET expires_at = now() - interval '1 second'") }
            #expect(try await store.acquireLease("publish:route:1", holder: "B", ttl: .seconds(60)) == nil)
            #expect(try await !store.renewLease("publish:route:1", holder: "A", ttl: .seconds(60)))  // A lost it
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'lease_taken_over' AND detail->>'from' = 'A'") == 1)
        }
    }

    @Test func anOverlappingRunSkipsWhatAnotherHoldsAndExitsCleanly() async throws {
        try await Harness.with { h in
            _ = try await FetchJob().run(try h.context(export: Paths.sampleExport))
            // Another process (a Scheduler run that started twice) holds the route's publishing.
            try await h.database.withConnection { conn in
                try conn.query("INSERT INTO mirror.leases (name, holder, expires_at) VALUES ('publish:route:1', 'scheduler.4821:77:abcd', now() + interval '1 minute')")
                try conn.query("INSERT INTO mirror.leases (name, holder, expires_at) VALUES ('fetch:export:\(Paths.sampleExport.path)', 'scheduler.4821:77:abcd', now() + interval '1 minute')")
            }
            let run = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            #expect(run.outcome == "ok")
            #expect(run["publish_held"] == 1 && run["fetch_held"] >= 1 && run["published"] == 0)
            #expect(h.logs.lines.contains { $0.contains("skipped: publish:route:1 held by scheduler.4821:77:abcd until") })
            let status = try await MirrorStore(database: h.database).status()
            #expect(status.text().contains("publish:route:1 held by scheduler.4821:77:abcd until"))
            // Once the holder is gone (its lease expired), the next run publishes everything once.
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.leases SET expires_at = now() - interval '1 second'") }
            let next = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            #expect(next["published"] == 10)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.leases") == 0)  // released after the run
        }
    }
}

/// Runners beside each other split the translation backlog (`FOR UPDATE SKIP LOCKED` claims).
@Suite struct TranslationClaimTests {
    /// Counts every text it is asked for, slowly, as a real API would take time.
    final class CountingTranslator: Translator, @unchecked Sendable {
        let lock = NSLock()
        var asked: [String] = []
        var name: String { "counting" }
        func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
            lock.withLock { asked.append(text.text) }
            try await Task.sleep(for: .milliseconds(30))
            return try await PseudoTranslator().translate(text, to: language)
        }
    }

    @Test func fourConcurrentRunsTranslateEveryPostOnceAndShareTheWork() async throws {
        try await Harness.with { h in
            let export = try Paths.russianExport
            _ = try await FetchJob().run(try h.context(export: export))
            let translators = (0..<4).map { _ in CountingTranslator() }
            let summaries = try await withThrowingTaskGroup(of: JobSummary.self) { group in
                for translator in translators {
                    group.addTask { try await TranslatePendingJob().run(try h.context(export: export, translator: translator)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let needed = try await h.count("SELECT count(*)::int AS n FROM mirror.posts WHERE needs_translation")
            let asked = translators.flatMap(\.asked)
            #expect(asked.count == needed)  // no text was paid for twice
            #expect(summaries.map { $0["translated"] }.reduce(0, +) == needed)
            #expect(translators.allSatisfy { $0.asked.count > needed / 10 })  // each runner took a share
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translations") == needed)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_claims") == 0)
        }
    }
}
