import Foundation
import Testing
import TestSupport

@testable import Core
@testable import Jobs

/// `status`, `retry` and `skip` on the sample export (12 messages; 10 posts; album 4, 5, 6; post 3 has "Эмодзи").
@Suite struct OperatorTests {
    func postID(_ h: Harness, message: Int64) async throws -> Int64 {
        try await h.database.withConnection { conn in
            try conn.query("SELECT id FROM mirror.posts WHERE message_id = $1", [message]).first!.decode("id")
        }
    }

    @Test func statusShowsBacklogParkedPostsAndLastRunsThenRetryPublishesTheParkedPost() async throws {
        try await Harness.with { h in
            let failing = FailingTranslator(marker: "Эмодзи", kind: .rejected)
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: failing))
            try await JobRunLog(database: h.database).finish(try await JobRunLog(database: h.database).start(job: "all"), outcome: "partial", summary: "outcome=partial failed=1")
            let store = MirrorStore(database: h.database)
            let parkedID = try await postID(h, message: 3)

            let status = try await store.status()
            let route = try #require(status.routes.first)
            #expect(status.routes.count == 1)
            #expect(route.fetchedThroughMessageID == 12)
            #expect(route.awaitingTranslation == 0 && route.awaitingPublication == 0)
            #expect(route.published == 9 && route.skipped == 0 && route.publishing.isEmpty)
            #expect(route.parked.map(\.postID) == [parkedID])
            #expect(route.parked.first?.attempts == 1)
            #expect(route.parked.first?.reason == "scripted failure for Эмодзи")
            // A parked post is not "waiting": it waits for the operator, not for a stage.
            #expect(route.oldestWaitingPostID == nil)
            #expect(status.jobs.map(\.job) == ["all"] && status.jobs.first?.outcome == "partial")
            let text = status.text()
            #expect(text.contains("parked post \(parkedID) (message 3) after 1 attempt"))
            #expect(text.contains("scripted failure for Эмодзи"))
            let json = try JSONSerialization.jsonObject(with: Data(try status.json().utf8)) as! [String: Any]
            let jsonRoute = (json["routes"] as! [[String: Any]])[0]
            #expect((jsonRoute["parked"] as! [[String: Any]])[0]["post_id"] as? Int == Int(parkedID))
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'parked'") == 1)

            let outcome = try await OperatorActions(database: h.database).retry(postID: parkedID)
            #expect(outcome.postIDs == [parkedID])
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'retried' AND post_id = $1", [parkedID]) == 1)
            let pending = try await store.status().routes[0]
            #expect(pending.parked.isEmpty && pending.awaitingTranslation == 1 && pending.oldestWaitingPostID == parkedID)
            let run = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            #expect(run["translated"] == 1 && run["published"] == 1)
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) }.last == 3)
            // Nothing left to retry: a clear refusal, nothing recorded.
            await #expect(throws: OperatorActions.Refusal.self) { try await OperatorActions(database: h.database).retry(postID: parkedID) }
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'retried'") == 1)
        }
    }

    @Test func skipTakesTheWholeAlbumOutAndRetryBringsItBack() async throws {
        try await Harness.with { h in
            // Import only; nothing published yet.
            _ = try await FetchJob().run(try h.context(export: Paths.sampleExport))
            let album = try await postID(h, message: 5)  // the album's middle post stands for the album
            let outcome = try await OperatorActions(database: h.database).skip(postID: album)
            #expect(outcome.postIDs.count == 3)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'skipped'") == 3)

            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 3, 7, 8, 9, 11, 12])
            // The album's caption was not translated either: nobody needs it.
            let captionPost = try await postID(h, message: 4)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translations WHERE post_id = $1", [captionPost]) == 0)
            let status = try await MirrorStore(database: h.database).status().routes[0]
            #expect(status.skipped == 3 && status.published == 7 && status.awaitingPublication == 0 && status.awaitingTranslation == 0)

            _ = try await OperatorActions(database: h.database).retry(postID: captionPost)
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            // Brought back, the album goes out whole (after later posts: it was skipped when they went).
            #expect(try h.files.readRecords().last?.items.map(\.sourceMessageID) == [4, 5, 6])
            // Published posts cannot be skipped.
            await #expect(throws: OperatorActions.Refusal.self) { try await OperatorActions(database: h.database).skip(postID: album) }
            // Unknown posts and routes are refused with the fix.
            let unknown = await #expect(throws: OperatorActions.Refusal.self) { try await OperatorActions(database: h.database).skip(postID: 999_999) }
            #expect(unknown?.description.contains("JobRunner status") == true)
            let wrongRoute = await #expect(throws: OperatorActions.Refusal.self) { try await OperatorActions(database: h.database).retry(postID: album, routeID: 77) }
            #expect(wrongRoute?.description.contains("route 77") == true)
        }
    }

    @Test func progressIsLoggedForLongWork() async throws {
        let logs = LogCapture()
        let progress = ProgressReporter(job: "translate-pending", total: 3, unit: "posts", style: .log(interval: .zero), logger: logs.logger(level: .info))
        progress.advance()
        progress.advance(by: 2)
        progress.finish()
        #expect(logs.lines.count == 2)
        #expect(logs.lines[0].contains("msg=progress done=1 total=3 unit=posts"))
        #expect(logs.lines[1].contains("done=3 total=3"))
        let quiet = LogCapture()
        let slow = ProgressReporter(job: "publish", total: 3, unit: "posts", style: .log(interval: .seconds(3600)), logger: quiet.logger(level: .info))
        slow.advance(by: 3)
        #expect(quiet.lines.isEmpty)
    }
}
