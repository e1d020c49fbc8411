import Foundation
import Synchronization
import Testing
import TestSupport

@testable import Core
@testable import Jobs

/// translate-pending with the real Claude translator against the fake API: outages, concurrency, the
/// Message Batches path, the glossary and the request ledger.
@Suite(.serialized) struct TranslationJobTests {
    func claude(_ fake: FakeAnthropic, attempts: Int = 4, batch: TranslationBatchLimits = TranslationBatchLimits(posts: 12, characters: 8000)) -> ModelTranslator {
        let backend = ClaudeMessagesBackend(settings: fake.settings, http: HTTPClient(), logger: Logger(level: .error),
                                            retry: APIRetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(10)))
        return ModelTranslator(backend: backend, batchLimits: batch, logger: Logger(level: .error))
    }

    @Test func b20ThreeOverloadsOnOnePostLeaveItPendingAndTheOthersGoOn() async throws {
        try await Harness.with { h in
            let overloaded = FakeAnthropic.error(529, "overloaded_error", "Overloaded")
            let fake = try FakeAnthropic([overloaded, overloaded, overloaded], model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake, attempts: 3, batch: .single),
                                        configure: { $0.translation.concurrency = 1 })
            _ = try await FetchJob().run(context)
            let summary = try await TranslatePendingJob().run(context)
            #expect(summary["failed"] == 1 && summary["translated"] == 5)
            let failure = try await h.database.withConnection { conn in
                try conn.query("SELECT p.message_id, f.attempts, f.parked, f.last_error FROM mirror.translation_failures f JOIN mirror.posts p ON p.id = f.post_id").first!
            }
            #expect(try failure.decode("message_id", as: Int64.self) == 2)  // A: the first post with words
            #expect(try failure.decode("attempts", as: Int.self) == 1)
            #expect(try failure.decode("parked", as: Bool.self) == false)
            #expect(try failure.decode("last_error", as: String.self) == "HTTP 529 overloaded_error: Overloaded after 3 attempts")
            // The next run resumes with A.
            let next = try await TranslatePendingJob().run(context)
            #expect(next["translated"] == 1 && next["failed"] == 0)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_failures") == 0)
        }
    }

    @Test func requestsAndTheirBillAreRecordedPerRequestAndPerPost() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake))
            _ = try await FetchJob().run(context)
            let summary = try await TranslatePendingJob().run(context)
            #expect(summary["translated"] == 6)
            #expect(fake.server.requests.count == 1)  // six short posts, one request
            let request = try await h.database.withConnection { conn in try conn.query("SELECT * FROM mirror.translation_requests").first! }
            #expect(try request.decode("posts", as: Int.self) == 6 && request.decode("translated", as: Int.self) == 6)
            #expect(try request.decode("input_tokens", as: Int.self) == 321 && request.decode("requests", as: Int.self) == 1)
            #expect(try await h.count("SELECT sum(input_tokens)::int AS n FROM mirror.translations") == 321)
            #expect(try await h.count("SELECT sum(output_tokens)::int AS n FROM mirror.translations") == 45)
            #expect(try await h.count("SELECT sum(requests)::int AS n FROM mirror.translations") == 1)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translations WHERE input_tokens > 0") == 6)
        }
    }

    @Test func upToTranslateConcurrencyRequestsAreInFlight() async throws {
        final class Gauge: Sendable {
            let state = Mutex((now: 0, peak: 0))
        }
        let gauge = Gauge()
        let server = try LocalHTTPServer { request in
            gauge.state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            Thread.sleep(forTimeInterval: 0.3)
            gauge.state.withLock { $0.now -= 1 }
            let body = try! JSONSerialization.jsonObject(with: request.body) as! [String: Any]
            let user = (body["messages"] as! [[String: Any]])[0]["content"] as! String
            return FakeAnthropic.message(FakeAnthropic.echo(user))
        }
        defer { server.stop() }
        try await Harness.with { h in
            var settings = try FakeAnthropic().settings
            settings.baseURL = server.baseURL
            let translator = ModelTranslator(backend: ClaudeMessagesBackend(settings: settings, http: HTTPClient(), logger: Logger(level: .error)),
                                             batchLimits: .single, logger: Logger(level: .error))
            let context = try h.context(export: Paths.sampleExport, translator: translator, configure: { $0.translation.concurrency = 3 })
            _ = try await FetchJob().run(context)
            let summary = try await TranslatePendingJob().run(context)
            #expect(summary["translated"] == 6)
            #expect(gauge.state.withLock { $0.peak } == 3)
        }
    }

    @Test func aBacklogGoesThroughMessageBatchesSubmittedOnceCollectedLater() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake, batch: TranslationBatchLimits(posts: 4, characters: 8000)),
                                        configure: { $0.translation.batchAPIThreshold = 5 })
            _ = try await FetchJob().run(context)
            let submit = try await TranslatePendingJob().run(context)
            #expect(submit["batched"] == 6 && submit["translated"] == 0)
            #expect(fake.messageBodies.isEmpty)  // nothing went through the live API
            let create = try #require(fake.server.requests.first { $0.path == "/v1/messages/batches" })
            let requests = (try JSONSerialization.jsonObject(with: create.body) as! [String: Any])["requests"] as! [[String: Any]]
            #expect(requests.map { $0["custom_id"] as! String } == ["r0", "r1"])  // 4 + 2 posts

            let status = try await MirrorStore(database: h.database).status()
            #expect(status.messageBatches.map(\.posts) == [6] && status.messageBatches.first?.id == "msgbatch_1")
            #expect(status.text().contains("\nmessage batches (submitted, collected by the next translate-pending after they end, within 24 h):\n  msgbatch_1: 6 posts into en, submitted "))
            // Still processing: nothing collected, nothing submitted twice, the publisher waits.
            let waiting = try await Pipeline().run(context)
            #expect(waiting["translated"] == 0 && waiting["batched"] == 0)
            #expect(fake.server.requests.filter { $0.path == "/v1/messages/batches" && $0.method == "POST" }.count == 1)

            fake.endBatches()
            let collect = try await Pipeline().run(context)
            #expect(collect["translated"] == 6 && collect["published"] == 10)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_requests WHERE via_batch") == 2)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_batches WHERE collected_at IS NOT NULL AND outcome = 'ended'") == 1)
            #expect(try await MirrorStore(database: h.database).status().messageBatches.isEmpty)
            // Half price: the fake bills user-bytes/4 tokens both ways; cost = tokens · ($0.10 + $0.50) / 2 per MTok.
            let tokens = try await h.count("SELECT sum(input_tokens)::int AS n FROM mirror.translation_requests")
            let cost = try await h.database.withConnection { conn in try conn.query("SELECT sum(cost_usd)::float8 AS c FROM mirror.translation_requests").first!.decode("c", as: Double.self) }
            #expect(abs(cost - Double(tokens) * 0.60 / 2 / 1_000_000) < 2e-6)
        }
    }

    @Test func aPostEditedWhileItsBatchRunsIsTranslatedAgainFromTheNewText() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake), configure: { $0.translation.batchAPIThreshold = 5 })
            _ = try await FetchJob().run(context)
            #expect(try await TranslatePendingJob().run(context)["batched"] == 6)
            try await h.database.withConnection { conn in
                try conn.query("UPDATE mirror.posts SET text = 'Новый текст после правки', entities = '[]' WHERE message_id = 2")
            }
            fake.endBatches()
            let collect = try await TranslatePendingJob().run(context)
            // Five from the batch; the stale result is dropped and the edited post, pending again and below the
            // threshold, goes through the live API in the same run.
            #expect(collect["translated"] == 6)
            #expect(fake.messageBodies.count == 1 && fake.userMessages[0].contains("Новый текст после правки"))
            let text = try await h.database.withConnection { conn in
                try conn.query("SELECT t.text FROM mirror.translations t JOIN mirror.posts p ON p.id = t.post_id WHERE p.message_id = 2").first!.decode("text", as: String.self)
            }
            #expect(text == "Новый текст после правки")
        }
    }

    @Test func aBatchTheAPINoLongerKnowsIsClosedAndItsPostsTranslatedAgain() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake))
            _ = try await FetchJob().run(context)
            let posts = try await context.store.untranslatedPosts(chatID: -1_001_000_000_001, language: LanguageCode("en")!, afterMessageID: .min, limit: 100)
            try await context.store.recordSubmittedBatch(id: "msgbatch_archived", language: LanguageCode("en")!, translator: "claude:claude-haiku-5-5",
                                                         requests: [("r0", posts.map(\.postID))])
            #expect(try await context.store.countUntranslated(chatID: -1_001_000_000_001, language: LanguageCode("en")!) == 0)
            let summary = try await TranslatePendingJob().run(context)
            #expect(summary["translated"] == posts.count && posts.count == 6)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_batches WHERE outcome = 'gone'") == 1)
        }
    }

    @Test func batchesATranslatorCannotCollectAreAbandonedAndTheirPostsTranslated() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let claudeContext = try h.context(export: Paths.sampleExport, translator: claude(fake), configure: { $0.translation.batchAPIThreshold = 5 })
            _ = try await FetchJob().run(claudeContext)
            #expect(try await TranslatePendingJob().run(claudeContext)["batched"] == 6)
            // The operator switches to another translator (e.g. TRANSLATOR=openai) before the batch ended.
            let summary = try await TranslatePendingJob().run(try h.context(export: Paths.sampleExport, translator: PseudoTranslator()))
            #expect(summary["translated"] == 6)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_batches WHERE outcome = 'abandoned'") == 1)
        }
    }

    @Test func everyBatchRequestIsBilledEvenWhenItsPostWasEdited() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake, batch: .single), configure: { $0.translation.batchAPIThreshold = 5 })
            _ = try await FetchJob().run(context)
            #expect(try await TranslatePendingJob().run(context)["batched"] == 6)
            try await h.database.withConnection { conn in
                try conn.query("UPDATE mirror.posts SET text = 'Новый текст после правки', entities = '[]' WHERE message_id = 2")
            }
            fake.endBatches()
            _ = try await TranslatePendingJob().run(context)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_requests WHERE via_batch") == 6)
            #expect(try await h.count("SELECT sum(requests)::int AS n FROM mirror.translation_requests WHERE via_batch") == 6)
        }
    }

    @Test func perPostCostsAddUpToTheRequestsCost() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake))
            _ = try await FetchJob().run(context)
            #expect(try await TranslatePendingJob().run(context)["translated"] == 6)
            let (posts, request) = try await h.database.withConnection { conn in
                (try conn.query("SELECT sum(cost_usd)::text AS c FROM mirror.translations").first!.decode("c", as: String.self),
                 try conn.query("SELECT sum(cost_usd)::text AS c FROM mirror.translation_requests").first!.decode("c", as: String.self))
            }
            #expect(posts == request && request == "0.000055")  // 321 · $0.10 + 45 · $0.50 per MTok = 54.6 µ$
        }
    }

    @Test func aTranslationOfTextEditedWhileItWasTranslatedIsNotStored() async throws {
        try await Harness.with { h in
            let store = MirrorStore(database: h.database)
            let context = try h.context(export: Paths.sampleExport)
            _ = try await FetchJob().run(context)
            let post = try #require(try await store.untranslatedPosts(chatID: -1_001_000_000_001, language: LanguageCode("en")!, afterMessageID: .min, limit: 1).first)
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.posts SET text = 'правка' WHERE id = $1", [post.postID]) }
            let output = TranslationOutput(content: FormattedText(text: "old translation"))
            #expect(try await store.saveTranslation(postID: post.postID, language: LanguageCode("en")!, output: output, translator: "t", source: post.content) == false)
            #expect(try await store.saveTranslation(postID: post.postID, language: LanguageCode("en")!, output: output, translator: "t",
                                                    source: FormattedText(text: "правка", entities: post.content.entities)) == true)
        }
    }

    @Test func theGlossaryOfTheConfiguredPairReachesThePrompt() async throws {
        try await Harness.with { h in
            let fake = try FakeAnthropic(model: FakeAnthropic.echo)
            let store = MirrorStore(database: h.database)
            let csv = "source,target,note\r\nДобро,Welcome,\"greeting, not \"\"good\"\"\"\r\n"
            #expect(try await store.importGlossary(try Glossary.parseCSV(csv), from: LanguageCode("ru")!, to: LanguageCode("en")!, replace: false) == 1)
            #expect(try await store.glossary(from: LanguageCode("ru")!, to: LanguageCode("en")!).csv() == csv)
            let context = try h.context(export: Paths.sampleExport, translator: claude(fake), configure: { $0.translation.sourceLanguage = LanguageCode("ru") })
            _ = try await FetchJob().run(context)
            _ = try await TranslatePendingJob().run(context)
            let system = (fake.messageBodies[0]["system"] as! [[String: Any]])[0]["text"] as! String
            #expect(system.contains("- Добро → Welcome (greeting, not \"good\")"))
            // The echo keeps "Добро", not "Welcome": that post is asked again with the reason, then parked.
            #expect(fake.userMessages[1].contains("glossary term \"Добро\" must be rendered \"Welcome\""))
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.translation_failures WHERE parked") == 1)

            // A model that follows the glossary: the post is translated and the hit recorded for analytics.
            let follows = try FakeAnthropic(model: { FakeAnthropic.echo($0).replacingOccurrences(of: "Добро", with: "Welcome") })
            let parkedID = try await h.count("SELECT post_id::int AS n FROM mirror.translation_failures")
            _ = try await OperatorActions(database: h.database).retry(postID: Int64(parkedID))
            let again = try await TranslatePendingJob().run(try h.context(export: Paths.sampleExport, translator: claude(follows),
                                                                          configure: { $0.translation.sourceLanguage = LanguageCode("ru") }))
            #expect(again["translated"] == 1)
            #expect(try await h.count("SELECT (detail->>'glossary_hits')::int AS n FROM mirror.events WHERE kind = 'translated' AND post_id = $1", [Int64(parkedID)]) == 1)
            #expect(h.logs.lines.contains { $0.contains("msg=glossary") && $0.contains("pair=ru→en terms=1") })
            // The offline translator cannot apply a glossary, and says so instead of ignoring it silently.
            try await h.database.withConnection { conn in try conn.query("DELETE FROM mirror.translations") }
            _ = try await TranslatePendingJob().run(try h.context(export: Paths.sampleExport, configure: { $0.translation.sourceLanguage = LanguageCode("ru") }))
            #expect(h.logs.lines.contains { $0.contains("this translator does not apply the glossary") && $0.contains("translator=pseudo") })
        }
    }
}
