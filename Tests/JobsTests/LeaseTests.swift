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
            let status = try await MirrorStore(database: h.database).status(maxAttempts: 5)
            #expect(status.text().contains("publish:route:1 held by scheduler.4821:77:abcd until"))
            // Once the holder is gone (its lease expired), the next run publishes everything once.
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.leases SET expires_at = now() - interval '1 second'") }
            let next = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            #expect(next["published"] == 10)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.leases") == 0)  // released after the run
        }
    }
}
