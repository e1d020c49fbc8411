import Foundation
import Testing
import TestSupport

@testable import Core
@testable import Jobs

@Suite struct PipelineTests {
    @Test func sampleExportEndToEnd() async throws {
        try await Harness.with { h in
            let summary = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            // 12 messages: 2 service, 10 posts; 6 have words (2, 3, 4, 8, 9, 12); 5, 6, 7, 11 are media-only.
            // The run's events fall into one hour, or two when the run crosses the hour.
            #expect((1...2).contains(summary["rollup_hours"]) && (1...2).contains(summary["rollup_days"]))
            #expect(summary.counts.filter { !$0.key.hasPrefix("rollup_") } == ["fetched": 10, "edited": 0, "fetch_held": 0, "translated": 6, "failed": 0, "published": 10, "edits_published": 0, "waiting": 0, "parked": 0, "in_flight": 0, "set_aside": 0, "resting": 0, "publish_held": 0, "batched": 0])
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.translations") == 6)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.events WHERE kind = 'fetched'") == 10)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.events WHERE kind = 'translated'") == 6)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.events WHERE kind = 'published'") == 10)
            #expect(try await h.count("SELECT last_message_id AS n FROM mirror.source_offsets") == 12)
            #expect(try await h.count("SELECT last_published_message_id AS n FROM mirror.routes") == 12)

            let records = try h.files.readRecords()
            // Units: 2, 3, album [4, 5, 6], 7, 8, 9, 11, 12.
            #expect(records.map { $0.items.map(\.sourceMessageID) } == [[2], [3], [4, 5, 6], [7], [8], [9], [11], [12]])
            let album = records[2]
            #expect(album.items[0].published.text == "[→en] Фото дня: три снимка одним альбомом #фото")
            #expect(album.items[1].published.text.isEmpty && album.items[2].published.text.isEmpty)
            #expect(album.items.map { $0.media[0].kind } == ["photo", "photo", "video"])
            // Media-only posts go out without a translation marker: nothing was translated.
            #expect(records[3].items[0].published == records[3].items[0].source)
            // Formatting is kept on the same text.
            for record in records {
                for item in record.items {
                    #expect(item.published.entities.map { item.published.substring(utf16: $0.range) } == item.source.entities.map { item.source.substring(utf16: $0.range) })
                }
            }
            let page = try String(contentsOf: h.files.pageURL, encoding: .utf8)
            #expect(page.contains("8 publications (10 posts)"))
            #expect(page.contains("<b>пример канала</b>"))
            #expect(page.contains("<a href=\"https://example.com/mirror?a=1&amp;b=2\">зеркало</a>"))
            #expect(page.contains("Если x &lt; 5 &amp; y &gt; 3"))

            // Running again publishes nothing.
            let again = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            #expect(again == JobSummary(["fetched": 0, "edited": 0, "fetch_held": 0, "translated": 0, "failed": 0, "published": 0, "edits_published": 0, "waiting": 0, "parked": 0, "in_flight": 0, "set_aside": 0, "resting": 0, "publish_held": 0, "rollup_hours": 0, "rollup_days": 0, "batched": 0]))
            #expect(try h.files.readRecords().count == 8)
        }
    }

    @Test func russianExportEveryPostPublishedExactlyOnceInOrder() async throws {
        try await Harness.with { h in
            let export = try Paths.russianExport
            let summary = try await Pipeline().run(try h.context(export: export))
            // Independent count of posts with words: any letter in the export's own text parts.
            let root = try JSONSerialization.jsonObject(with: Data(contentsOf: export)) as! [String: Any]
            let posts = (root["messages"] as! [[String: Any]]).filter { $0["type"] as? String == "message" }
            let withWords = posts.filter { message in
                (message["text_entities"] as! [[String: Any]]).map { $0["text"] as! String }.joined().unicodeScalars.contains { $0.properties.isAlphabetic }
            }.count
            #expect(posts.count == 3717)
            #expect(summary["fetched"] == 3717)
            #expect(summary["published"] == 3717)
            #expect(summary["translated"] == withWords)
            let ids = try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) }
            #expect(ids.count == 3717)
            #expect(Set(ids).count == 3717)
            #expect(ids == ids.sorted())
            #expect(Set(ids) == Set(posts.map { ($0["id"] as! NSNumber).int64Value }))
            // Albums arrive as one record each.
            let albumRecords = try h.files.readRecords().filter { $0.items.count > 1 }
            #expect(albumRecords.allSatisfy { Set($0.items.map(\.albumID)).count == 1 && $0.items[0].albumID != nil })
        }
    }

    @Test func newerExportPublishesOnlyTheNewMessages() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let full = try Paths.russianExport
                let partial = try truncatedExport(full, keeping: 1500, into: dir)
                let first = try await Pipeline().run(try h.context(export: partial))
                let firstCount = try TelegramDesktopExport.parse(Data(contentsOf: partial)).posts.count
                #expect(first["published"] == firstCount)
                // The newer export sits at another path: same channel, same route.
                let second = try await Pipeline().run(try h.context(export: full))
                #expect(second["fetched"] == 3717 - firstCount)
                #expect(second["published"] == 3717 - firstCount)
                #expect(try await h.count("SELECT count(*) AS n FROM mirror.routes") == 1)
                let ids = try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) }
                #expect(ids.count == 3717 && Set(ids).count == 3717)
            }
        }
    }

    @Test func destinationFailureAfterWritingIsSettledAtOnceNotRepeated() async throws {
        try await Harness.with { h in
            let files = h.files
            let crashing: @Sendable (RouteSpec) throws -> any Destination = { _ in
                CrashingDestination(inner: files, failOnMessageID: 8, when: .afterWriting)
            }
            // The destination's failure is this route's alone: recorded, the run fails, nothing is left claimed.
            let failed = try await Pipeline().run(try h.context(export: Paths.sampleExport, destination: crashing))
            #expect(failed.outcome == "failed")
            #expect(failed.errors.count == 1 && failed.errors[0].hasPrefix("route 1 (files:"))
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.publications WHERE state = 'publishing'") == 0)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.publications WHERE state = 'published'") == 7)
            let summary = try await PublishJob().run(try h.context(export: Paths.sampleExport))
            #expect(summary["published"] == 3)  // 9, 11, 12; 8 was found in the destination, not re-sent
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12])
            #expect(h.logs.lines.contains { $0.contains("interrupted publication found in destination") })
        }
    }

    @Test func destinationFailureBeforeWritingIsSentOnceLater() async throws {
        try await Harness.with { h in
            let files = h.files
            let crashing: @Sendable (RouteSpec) throws -> any Destination = { _ in
                CrashingDestination(inner: files, failOnMessageID: 5, when: .beforeWriting)
            }
            let failed = try await Pipeline().run(try h.context(export: Paths.sampleExport, destination: crashing))
            #expect(failed["published"] == 2)  // posts 2 and 3, then the album 4-6 fails
            #expect(failed.outcome == "failed")
            _ = try await PublishJob().run(try h.context(export: Paths.sampleExport))
            let records = try h.files.readRecords()
            #expect(records.map { $0.items.map(\.sourceMessageID) } == [[2], [3], [4, 5, 6], [7], [8], [9], [11], [12]])
        }
    }

    /// A run killed between writing to the destination and recording it leaves its claim behind.
    func simulateCrashedClaim(_ h: Harness, messageID: Int64, age: String, removeFromDestination: Bool) async throws {
        try await h.database.withConnection { conn in
            _ = try conn.query("""
                UPDATE mirror.publications SET state = 'publishing', updated_at = now() - $2::interval
                WHERE post_id = (SELECT id FROM mirror.posts WHERE message_id = $1)
                """, [messageID, age])
        }
        if removeFromDestination {
            let lines = try String(contentsOf: h.files.journalURL, encoding: .utf8).split(separator: "\n")
            try (lines.filter { !$0.contains("\"source_message_id\":\(messageID)}") }.joined(separator: "\n") + "\n")
                .write(to: h.files.journalURL, atomically: true, encoding: .utf8)
        }
    }

    @Test func staleClaimFoundInTheDestinationIsRecordedNotRepeated() async throws {
        try await Harness.with { h in
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            try await simulateCrashedClaim(h, messageID: 12, age: "10 minutes", removeFromDestination: false)
            let summary = try await PublishJob().run(try h.context(export: Paths.sampleExport))
            #expect(summary["published"] == 0)
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12])
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.publications WHERE state = 'published'") == 10)
        }
    }

    @Test func staleClaimMissingFromTheDestinationIsSentOnce() async throws {
        try await Harness.with { h in
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport))
            try await simulateCrashedClaim(h, messageID: 12, age: "10 minutes", removeFromDestination: true)
            #expect(try h.files.readRecords().count == 7)
            let summary = try await PublishJob().run(try h.context(export: Paths.sampleExport))
            #expect(summary["published"] == 1)
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12])
        }
    }

    @Test func freshClaimPausesTheRouteInsteadOfPublishingTwice() async throws {
        try await Harness.with { h in
            _ = try await FetchJob().run(try h.context(export: Paths.sampleExport))
            _ = try await TranslatePendingJob().run(try h.context(export: Paths.sampleExport))
            // Another run has just claimed post 7 and is writing it.
            try await h.database.withConnection { conn in
                _ = try conn.query("""
                    INSERT INTO mirror.publications (route_id, post_id, state)
                    SELECT r.id, p.id, 'publishing' FROM mirror.routes r, mirror.posts p WHERE p.message_id = 7
                    """)
            }
            let summary = try await PublishJob().run(try h.context(export: Paths.sampleExport))
            #expect(summary["published"] == 5)  // 2, 3, album 4-6; then it stops at 7
            #expect(summary["in_flight"] == 1)
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 3, 4, 5, 6])
        }
    }

    @Test func overlappingPublishRunsPublishEveryPostExactlyOnce() async throws {
        try await Harness.with { h in
            let export = try Paths.russianExport
            _ = try await FetchJob().run(try h.context(export: export))
            _ = try await TranslatePendingJob().run(try h.context(export: export))
            // Four runners on one database, each with its own connection, until all posts are out.
            for _ in 0..<20 {
                let published = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<4 {
                        let context = try h.context(export: export, database: Database(try ConnectionString(h.url), logger: Logger(level: .error)))
                        group.addTask { try await PublishJob(pageSize: 50).run(context)["published"] }
                    }
                    return try await group.reduce(0, +)
                }
                if try await h.count("SELECT count(*) AS n FROM mirror.publications WHERE state = 'published'") == 3717 { break }
                #expect(published > 0)
            }
            let ids = try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) }
            #expect(ids.count == 3717)
            #expect(Set(ids).count == 3717)
            #expect(ids == ids.sorted())
        }
    }

    @Test func aPostTheTranslatorRejectsIsParkedAtOnceWithoutBlockingTheRoute() async throws {
        try await Harness.with { h in
            // `.rejected` is what a translator reports after its corrected retry failed too: asking again won't help.
            let translator = FailingTranslator(marker: "Эмодзи", kind: .rejected)  // post 3
            let first = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: translator))
            #expect(first["failed"] == 1)
            #expect(try await h.count("SELECT attempts AS n FROM mirror.translation_failures WHERE parked") == 1)
            let reason = try await h.database.withConnection { conn in try conn.query("SELECT last_error FROM mirror.translation_failures").first!.decode("last_error", as: String.self) }
            #expect(reason == "scripted failure for Эмодзи")
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 4, 5, 6, 7, 8, 9, 11, 12])
            // Parked posts are not retried by later runs.
            let later = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: translator))
            #expect(later["failed"] == 0)
            #expect(later["parked"] == 1)
        }
    }

    @Test func anOutageCountsAttemptsTheOthersGoOnAndThePostIsParkedAfterTheLimit() async throws {
        try await Harness.with { h in
            let outage = FailingTranslator(marker: "Эмодзи", kind: .transient)  // post 3
            for run in 1...Config.defaultMaxAttempts {
                let summary = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: outage))
                // Field report B20: post 3 stays pending with its attempt counted; the others are translated.
                #expect(summary["translated"] == (run == 1 ? 5 : 0))
                #expect(summary["failed"] == 1)
                // The route waits at post 3 until it is parked, so nothing overtakes it before then.
                #expect(summary["published"] == (run == 1 ? 1 : run == Config.defaultMaxAttempts ? 8 : 0))
                #expect(try await h.count("SELECT attempts AS n FROM mirror.translation_failures") == run)
            }
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_failures WHERE parked") == 1)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.events WHERE kind = 'parked'") == 1)
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2, 4, 5, 6, 7, 8, 9, 11, 12])
        }
    }

    @Test func aTotalOutageStopsTranslatingForTheRunAfterTwoFailedRounds() async throws {
        try await Harness.with { h in
            let outage = FailingTranslator(marker: nil, kind: .transient)
            let summary = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: outage))
            // Two rounds of TRANSLATE_CONCURRENCY (2) requests of one post each, then the run gives up on the API.
            #expect(summary["failed"] == 2 * Config.defaultConcurrency)
            #expect(summary["translated"] == 0 && summary["published"] == 0)
            #expect(h.logs.lines.contains { $0.contains("translator unavailable; stopping translation until the next run") })
        }
    }

    @Test func inStrictOrderAnOutageStopsAtThePostThatFailed() async throws {
        try await Harness.with { h in
            let outage = FailingTranslator(marker: "Эмодзи", kind: .transient)  // post 3
            let context = try h.context(export: Paths.sampleExport, translator: outage, configure: { $0.strictOrder = true })
            let summary = try await Pipeline().run(context)
            // Field report B20 with ordering required: post 2 done, post 3 failed, nothing after it attempted.
            #expect(summary["translated"] == 1 && summary["failed"] == 1)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translations") == 1)
            #expect(try h.files.readRecords().flatMap { $0.items.map(\.sourceMessageID) } == [2])
        }
    }

    @Test func fatalTranslatorErrorStopsTheJob() async throws {
        try await Harness.with { (h: Harness) async throws in
            let translator = FailingTranslator(marker: nil, kind: .fatal)
            let error = await #expect(throws: TranslationError.self) {
                try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: translator))
            }
            #expect(error?.kind == .fatal)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.translation_failures") == 0)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.posts") == 10)
        }
    }

    @Test func stopRequestedBeforeStartDoesNothing() async throws {
        try await Harness.with { h in
            let stop = StopSignal()
            stop.requestStop()
            let summary = try await Pipeline().run(try h.context(export: Paths.sampleExport, stop: stop))
            #expect(summary == Pipeline.emptySummary)
            #expect(summary.counts.values.allSatisfy { $0 == 0 } && summary.counts.count == 16)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.posts") == 0)
        }
    }
}

@Suite struct FileDestinationTests {
    @Test func tornLastLineIsCutBeforeTheNextAppend() async throws {
        try await Paths.withTemporaryDirectory { dir in
            let destination = FileDestination(directory: dir.path)
            let post = SourcePost(chatID: -100, messageID: 1, date: Date(timeIntervalSince1970: 0), content: FormattedText(text: "hi"))
            let unit = PublicationUnit(routeID: 1, targetLanguage: LanguageCode("en")!, items: [.init(postID: 1, source: post, content: FormattedText(text: "hi"))])
            _ = try await destination.publish(unit)
            let handle = try FileHandle(forWritingTo: destination.journalURL)
            handle.seekToEndOfFile()
            handle.write(Data("{\"key\":\"1/-100/2\",\"ite".utf8))
            try handle.close()
            #expect(try await destination.findPublished(key: "1/-100/2") == nil)
            var second = unit
            second.items[0].source.messageID = 2
            _ = try await destination.publish(second)
            let lines = try String(contentsOf: destination.journalURL, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            #expect(try destination.readRecords().map(\.key) == ["1/-100/1", "1/-100/2"])
            #expect(try await destination.findPublished(key: "1/-100/2") == ["1/-100/2#1"])
        }
    }

    @Test func reviewPageRendersOverlappingEntitiesAsWellFormedHTML() {
        let content = FormattedText(text: "a<b>&c", entities: [
            MessageEntity(type: "bold", offset: 0, length: 3),
            MessageEntity(type: "italic", offset: 2, length: 3),
            MessageEntity(type: "text_link", offset: 5, length: 1, url: "javascript:alert(1)"),
        ])
        #expect(ReviewPage.html(content) == "<b>a&lt;</b><i><b>b</b></i><i>&gt;&amp;</i><u>c</u>")
    }
}

@Suite struct RouteTests {
    @Test func aStoredRouteWhoseExportIsGoneIsSkippedNotAFailure() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // A route created from an export that has since been moved away.
                let moved = try truncatedExport(Paths.chineseExport, keeping: 50, into: dir)
                let context = try h.context(export: moved)
                _ = try await Pipeline().run(context)
                try FileManager.default.removeItem(at: moved)
                let summary = try await Pipeline().run(try h.context(export: Paths.sampleExport))
                #expect(summary.errors.isEmpty)
                #expect(summary.outcome == "ok")
                #expect(summary["fetched"] == 10)
                #expect(h.logs.lines.contains { $0.contains("export of a stored route is gone") })
            }
        }
    }

    @Test func oneBrokenDestinationDoesNotHoldBackOtherRoutes() async throws {
        try await Harness.with { h in
            let context = try h.context(export: Paths.sampleExport)
            // A destination folder that cannot be created: its parent is a file.
            let blocker = h.output.deletingLastPathComponent().appendingPathComponent("not-a-folder")
            try Data("x".utf8).write(to: blocker)
            _ = try await context.store.upsertRoute(
                RouteSpec(source: .desktopExport(path: Paths.sampleExport.path), destination: .files(directory: blocker.path + "/out"), targetLanguage: LanguageCode("de")!),
                chatID: -1_001_000_000_001
            )
            let summary = try await Pipeline().run(context)
            #expect(summary["published"] == 10)
            #expect(summary.errors.count == 1)
            #expect(summary.errors.first?.contains("cannot create folder") == true)
            #expect(summary.outcome == "failed")
            #expect(try h.files.readRecords().count == 8)
        }
    }

    @Test func firstRunWithNothingToPublishStillWritesTheReviewPage() async throws {
        try await Harness.with { h in
            let translator = FailingTranslator(marker: "Добро", kind: .transient)  // post 2 holds the route
            let summary = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: translator))
            #expect(summary["published"] == 0)
            #expect(summary.outcome == "partial")
            #expect(FileManager.default.fileExists(atPath: h.files.pageURL.path))
        }
    }

    @Test func secretsInErrorTextAreMaskedBeforeTheyAreStored() async throws {
        try await Harness.with { h in
            let secret = "sk-ant-api03-stored-secret-0042"
            SecretRedactor.shared.register(secret)
            let translator = FailingTranslator(marker: "Добро \(secret)", kind: .rejected)
            _ = try await Pipeline().run(try h.context(export: Paths.sampleExport, translator: translator))
            let stored = try await h.database.withConnection { conn in
                try conn.query("SELECT last_error AS t FROM mirror.translation_failures UNION ALL SELECT detail::text FROM mirror.events")
                    .map { try $0.decode("t", as: String.self) }.joined(separator: "\n")
            }
            #expect(stored.contains("scripted failure for Добро [REDACTED]"))
            #expect(!stored.contains(secret))
        }
    }

    @Test func routesStoredInTheDatabaseArePublishedToo() async throws {
        try await Harness.with { h in
            let context = try h.context(export: Paths.sampleExport)
            let german = h.output.deletingLastPathComponent().appendingPathComponent("out-de")
            _ = try await context.store.upsertRoute(
                RouteSpec(source: .desktopExport(path: Paths.sampleExport.path), destination: .files(directory: german.path), targetLanguage: LanguageCode("de")!),
                chatID: -1_001_000_000_001
            )
            let summary = try await Pipeline().run(context)
            #expect(summary["fetched"] == 10)
            #expect(summary["translated"] == 12)  // 6 posts with words, in two languages
            #expect(summary["published"] == 20)
            #expect(try h.files.readRecords().first?.items.first?.published.text.hasPrefix("[→en] ") == true)
            let de = try FileDestination(directory: german.path).readRecords()
            #expect(de.count == 8)
            #expect(de.first?.items.first?.published.text.hasPrefix("[→de] ") == true)
        }
    }
}

@Suite struct InvocationTests {
    @Test func durations() throws {
        #expect(try Invocation.parseDuration("30s") == .seconds(30))
        #expect(try Invocation.parseDuration("5m") == .seconds(300))
        #expect(try Invocation.parseDuration("1h30m") == .seconds(5400))
        #expect(try Invocation.parseDuration("1500ms") == .milliseconds(1500))
        #expect(throws: UsageError.self) { try Invocation.parseDuration("500ms") }
        #expect(throws: UsageError.self) { try Invocation.parseDuration("30") }
        #expect(throws: UsageError.self) { try Invocation.parseDuration("s") }
        #expect(throws: UsageError.self) { try Invocation.parseDuration("-5s") }
    }

    @Test func parsing() throws {
        #expect(try Invocation.parse(["all", "--every", "30s"]) == Invocation(command: .all, every: .seconds(30)))
        #expect(try Invocation.parse(["--every=1m", "publish"]) == Invocation(command: .publish, every: .seconds(60)))
        #expect(try Invocation.parse(["fetch", "-h"]) == Invocation(command: .fetch, help: true))
    }
}

@Suite struct OverlapTests {
    @Test func overlappingTranslationRunsCountAndRecordEachPostOnce() async throws {
        try await Harness.with { h in
            let export = try Paths.chineseExport
            _ = try await FetchJob().run(try h.context(export: export))
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<3 {
                    let context = try h.context(export: export, database: Database(try ConnectionString(h.url), logger: Logger(level: .error)))
                    group.addTask { try await TranslatePendingJob().run(context)["translated"] }
                }
                return try await group.reduce(0, +)
            }
            let stored = try await h.count("SELECT count(*) AS n FROM mirror.translations")
            #expect(total == stored)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.events WHERE kind = 'translated'") == stored)
            #expect(try await h.count("SELECT count(*) AS n FROM mirror.posts WHERE needs_translation") == stored)
        }
    }
}

@Suite struct DurationLimitTests {
    @Test func absurdDurationsAreUsageErrorsNotCrashes() {
        #expect(throws: UsageError.self) { try Invocation.parseDuration("99999999999999999h") }
        #expect(throws: UsageError.self) { try Invocation.parseDuration("200h") }
        #expect((try? Invocation.parseDuration("168h")) == .seconds(604_800))
    }
}

@Suite struct HostileTextTests {
    @Test func nulCharactersAreStoredAsReplacementCharactersWithOffsetsIntact() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let url = dir.appendingPathComponent("result.json")
                try Data(#"""
                    {"name": "N", "type": "public_channel", "id": 78, "messages": [
                     {"id": 1, "type": "message", "date_unixtime": "1700000000", "text": "", "text_entities": [
                       {"type": "plain", "text": "a\u0000b "}, {"type": "bold", "text": "bold"}, {"type": "text_link", "text": "x", "href": "https://e.com/\u0000"}]},
                     {"id": 2, "type": "message", "date_unixtime": "1700000001", "text": "", "text_entities": [{"type": "plain", "text": "next"}]}
                    ]}
                    """#.utf8).write(to: url)
                let summary = try await Pipeline().run(try h.context(export: url))
                #expect(summary["fetched"] == 2)
                #expect(summary["published"] == 2)
                let first = try #require(try h.files.readRecords().first?.items.first)
                #expect(first.source.text == "a\u{FFFD}b boldx")
                #expect(first.source.substring(utf16: first.source.entities[0].range) == "bold")
                #expect(first.source.entities[1].url == "https://e.com/\u{FFFD}")
            }
        }
    }
}

@Suite struct ConcurrentAppendTests {
    @Test func concurrentAppendersNeverCutEachOthersRecords() async throws {
        try await Paths.withTemporaryDirectory { dir in
            let destination = FileDestination(directory: dir.path)
            // Large records make a torn read likely without the lock.
            let text = String(repeating: "Слава 😀 ", count: 20_000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for n in 0..<25 {
                            let id = Int64(writer * 100 + n)
                            let post = SourcePost(chatID: -100, messageID: id, date: Date(timeIntervalSince1970: 1_700_000_000), content: FormattedText(text: text))
                            let unit = PublicationUnit(routeID: 1, targetLanguage: LanguageCode("en")!, items: [.init(postID: id, source: post, content: post.content)])
                            _ = try await destination.publish(unit)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try destination.readRecords().count == 100)
        }
    }
}
