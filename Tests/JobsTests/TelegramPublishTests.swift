import Foundation
import Testing
import TestSupport

@testable import Core
@testable import Jobs

/// Publishing through the Bot API, against a fake that answers like Telegram; field reports B04–B10, B21,
/// B23, B25, B26, B30.
@Suite struct TelegramPublishTests {
    /// The export's own text of a message: its text parts joined.
    static func exportText(_ export: URL, _ id: Int64) throws -> String {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: export)) as! [String: Any]
        let message = (root["messages"] as! [[String: Any]]).first { ($0["id"] as! NSNumber).int64Value == id }!
        return (message["text_entities"] as! [[String: Any]]).map { $0["text"] as! String }.joined()
    }

    static func textPost(_ id: Int64, _ text: String, date: Int = 1_760_000_000) -> ExportBuilder.Message {
        ExportBuilder.Message(id: id, date: date + Int(id), parts: [.plain(text)])
    }

    @Test func sampleExportArrivesOnceInOrderAsTextWithExplicitEntities() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            let summary = try await Pipeline().run(try h.telegramContext(export: Paths.sampleExport, fake: fake))
            #expect(summary.outcome == "ok")
            #expect(summary["published"] == 10)
            // Posts with words: 2, 3, 4, 8, 9, 12. The album 4–6 was exported without its files, so 4's caption goes
            // alone; 5, 6, 7 and 11 carry nothing Telegram can show and produce no message.
            let expected = try [2, 3, 4, 8, 9, 12].map { "[→en] " + (try Self.exportText(Paths.sampleExport, $0)) }
            #expect(fake.channelMessages.map(\.text) == expected)
            // B04: no parse mode anywhere, so `<`, `&`, `>` in the text are just text.
            #expect(fake.recordedCalls.allSatisfy { $0.parameters["parse_mode"] == nil })
            let eight = fake.channelMessages[3]
            #expect(eight.text.hasPrefix("[→en] Если x < 5 & y > 3 — <внимание>"))
            #expect(eight.entityTexts.first == "code:<внимание>")
            // B01 (c): the italic after the flag emoji covers exactly its word on the wire.
            #expect(fake.channelMessages[5].entityTexts.contains("italic:Слава"))
            // Every source post maps to the messages it produced.
            let mapped = try await h.database.withConnection { conn in
                try conn.query("""
                    SELECT p.message_id, x.destination_ids::text AS ids FROM mirror.publications x JOIN mirror.posts p ON p.id = x.post_id
                    WHERE x.state = 'published' ORDER BY p.message_id
                    """).map { "\(try $0.decode("message_id", as: Int64.self))=\(try $0.decode("ids", as: String.self))" }
            }
            let ids = fake.channelMessages.map(\.id)
            #expect(mapped == ["2=[\"\(ids[0])\"]", "3=[\"\(ids[1])\"]", "4=[\"\(ids[2])\"]", "5=[]", "6=[]", "7=[]", "8=[\"\(ids[3])\"]",
                               "9=[\"\(ids[4])\"]", "11=[]", "12=[\"\(ids[5])\"]"])
            // A second run sends nothing.
            let calls = fake.recordedCalls.count
            let again = try await Pipeline().run(try h.telegramContext(export: Paths.sampleExport, fake: fake))
            #expect(again["published"] == 0 && fake.recordedCalls.count == calls)
        }
    }

    @Test func albumGoesAsOneMediaGroupWithItsCaptionEntitiesOnTheWire() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // B21 + B23: 101 photo with a bold and spoiler caption, 102 photo, 103 video, one timestamp.
                let export = try ExportBuilder(messages: [
                    .init(id: 101, date: 1_760_000_000, parts: [Part(type: "bold", text: "Фото дня"), .plain(" и "), Part(type: "spoiler", text: "секрет")],
                          media: ("photo", "photos/a.jpg")),
                    .init(id: 102, date: 1_760_000_000, parts: [], media: ("photo", "photos/b.jpg")),
                    .init(id: 103, date: 1_760_000_000, parts: [], media: ("video_file", "video_files/c.mp4")),
                ]).write(into: dir)
                let fake = try FakeBotAPI()
                let summary = try await Pipeline().run(try h.telegramContext(export: export, fake: fake))
                #expect(summary["published"] == 3)
                let sends = fake.recordedCalls.filter { $0.method.hasPrefix("send") }
                #expect(sends.map(\.method) == ["sendMediaGroup"])
                let media = try #require(sends[0].parameters["media"] as? [[String: Any]])
                #expect(media.map { $0["type"] as? String } == ["photo", "photo", "video"])
                #expect(media.map { $0["media"] as? String } == ["attach://file0", "attach://file1", "attach://file2"])
                #expect(sends[0].files.keys.sorted() == ["file0", "file1", "file2"])
                // The caption and its entities sit on the item that carried them, shifted by the "[→en] " marker.
                #expect(media[0]["caption"] as? String == "[→en] Фото дня и секрет")
                let entities = try #require(media[0]["caption_entities"] as? [[String: Any]])
                #expect(entities.map { "\($0["type"]!) \($0["offset"]!) \($0["length"]!)" } == ["bold 6 8", "spoiler 17 6"])
                #expect(media[1]["caption"] == nil && media[2]["caption"] == nil)
                let messages = fake.channelMessages
                #expect(messages.count == 3 && Set(messages.map(\.albumID)).count == 1)
                let mapped = try await h.count("SELECT count(DISTINCT message_id)::int AS n FROM mirror.sent_messages")
                #expect(mapped == 3)
            }
        }
    }

    @Test func longFormattedTextIsSplitAtSentencesWithTheEntityCarriedIntoEveryChunk() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // B07: one italic entity over more than 6,000 UTF-16 units.
                let sentence = "Это длинное предложение о канале, которое повторяется много раз. "
                let long = String(repeating: sentence, count: 6_100 / sentence.utf16.count + 1)
                // B08: 5,000 CJK characters with an emoji (a surrogate pair) every seventh character and no spaces.
                let cjk = String((0..<5_000).map { $0 % 7 == 6 ? "😀" : "漢" }.joined())
                let export = try ExportBuilder(messages: [
                    .init(id: 1, date: 1_760_000_001, parts: [Part(type: "italic", text: long)]),
                    .init(id: 2, date: 1_760_000_002, parts: [.plain(cjk)]),
                ]).write(into: dir)
                let fake = try FakeBotAPI()
                let summary = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, translator: PassThroughTranslator()))
                #expect(summary["published"] == 2)
                let messages = fake.channelMessages
                let first = messages.filter { $0.text.hasPrefix("Это") }
                #expect(first.count == 2)
                for chunk in first {
                    #expect(chunk.text.utf16.count <= 4096)
                    #expect(chunk.text.hasSuffix("раз."))  // cut after a sentence, never inside a word
                    #expect(chunk.entityTexts == ["italic:" + chunk.text])
                }
                #expect(first.map(\.text).joined(separator: " ") == long.trimmingCharacters(in: .whitespaces))
                let second = messages.filter { $0.text.hasPrefix("漢") }
                // 5,000 characters of which 714 are emoji: 5,714 units, two messages.
                #expect(cjk.utf16.count == 5_714)
                #expect(second.count == 2 && second.allSatisfy { $0.text.utf16.count <= 4096 })
                // No surrogate pair was cut: the pieces put together are the source exactly.
                #expect(second.map(\.text).joined() == cjk)
            }
        }
    }

    @Test func captionOverTheLimitAfterTranslationContinuesInAReply() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // B10 (a): a 980-unit caption whose translation is longer than 1024.
                let words = String(repeating: "Длинная подпись к фотографии. ", count: 33)
                let export = try ExportBuilder(messages: [
                    .init(id: 5, date: 1_760_000_005, parts: [.plain(words.trimmingCharacters(in: .whitespaces))], media: ("photo", "photos/p.jpg")),
                ]).write(into: dir)
                #expect(words.utf16.count == 990)
                struct Longer: Translator {
                    var name: String { "longer" }
                    func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
                        TranslationOutput(content: FormattedText(text: text.text.replacingOccurrences(of: "Длинная", with: "Sehr lange deutsche")))
                    }
                }
                let fake = try FakeBotAPI()
                _ = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, translator: Longer()))
                let sends = fake.recordedCalls.filter { $0.method.hasPrefix("send") }
                #expect(sends.map(\.method) == ["sendPhoto", "sendMessage"])
                let messages = fake.channelMessages
                #expect(messages[0].kind == "photo" && messages[0].text.utf16.count <= 1024)
                #expect(messages[1].replyTo == messages[0].id)
                let translated = words.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "Длинная", with: "Sehr lange deutsche")
                #expect(translated.utf16.count > 1024)
                #expect(messages[0].text + " " + messages[1].text == translated)  // nothing truncated
                #expect(try await h.count("SELECT jsonb_array_length(destination_ids) AS n FROM mirror.publications") == 2)
            }
        }
    }

    @Test func shortFloodWaitIsHonouredAndTheSamePostIsSentAgain() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // B25: 15429, 15430, 15431; sending 15430 hits a 429 with retry_after.
                let export = try ExportBuilder(messages: [Self.textPost(15429, "один"), Self.textPost(15430, "два"), Self.textPost(15431, "три")]).write(into: dir)
                let fake = try FakeBotAPI()
                fake.script(.reply(status: 429, body: #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#), atCall: 2)
                let summary = try await Pipeline().run(try h.telegramContext(export: export, fake: fake))
                #expect(summary.outcome == "ok" && summary["published"] == 3)
                #expect(fake.channelMessages.map(\.text) == ["[→en] один", "[→en] два", "[→en] три"])
                let calls = fake.recordedCalls
                #expect(calls.count == 4)
                #expect(calls[2].at.timeIntervalSince(calls[1].at) >= 1.0)  // retry_after honoured, not shortened
            }
        }
    }

    @Test func floodWaitLongerThanTheRunIsStoredAndTheNextRunResumesWithThatPost() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let export = try ExportBuilder(messages: [Self.textPost(15429, "один"), Self.textPost(15430, "два"), Self.textPost(15431, "три")]).write(into: dir)
                let fake = try FakeBotAPI()
                // The real flood-wait body Telegram sends (nutgram's recorded response: retry after 14 s).
                let body = try String(contentsOf: Paths.fixture("bot_api_updates/nutgram_fixtures/Responses_too_many_requests.json"), encoding: .utf8)
                fake.script(.reply(status: 429, body: body), atCall: 2)
                let first = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, maxInlineWait: .seconds(2)))
                #expect(first.outcome == "ok")
                #expect(first["published"] == 1 && first["resting"] == 1)
                let wait = try await h.count("SELECT round(extract(epoch FROM retry_at - now()))::int AS n FROM mirror.routes")
                #expect((11...14).contains(wait))
                let status = try await MirrorStore(database: h.database).status()
                #expect(status.routes[0].restingReason == "Telegram flood control (429, retry after 14 s)")
                #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.publications WHERE state <> 'published'") == 0)
                // Before retry_at the route rests and makes no call.
                let calls = fake.recordedCalls.count
                let resting = try await PublishJob().run(try h.telegramContext(export: export, fake: fake))
                #expect(resting["resting"] == 1 && fake.recordedCalls.count == calls)
                // After it, 15430 goes first and nothing overtook it.
                try await h.database.withConnection { conn in try conn.query("UPDATE mirror.routes SET retry_at = now() - interval '1 second'") }
                let resumed = try await PublishJob().run(try h.telegramContext(export: export, fake: fake))
                #expect(resumed["published"] == 2)
                #expect(fake.channelMessages.map(\.text) == ["[→en] один", "[→en] два", "[→en] три"])
            }
        }
    }

    @Test func aFloodWaitPastTheRunsDeadlineIsStoredEvenWhenShort() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // Scheduler: 14 s would be slept, but the run must end in 8 s (`--max-runtime`).
                let export = try ExportBuilder(messages: [Self.textPost(1, "один"), Self.textPost(2, "два")]).write(into: dir)
                let fake = try FakeBotAPI()
                let body = try String(contentsOf: Paths.fixture("bot_api_updates/nutgram_fixtures/Responses_too_many_requests.json"), encoding: .utf8)
                fake.script(.reply(status: 429, body: body), atCall: 2)
                let started = ContinuousClock.now
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, maxInlineWait: .seconds(60), deadline: started + .seconds(8)))
                #expect(run["published"] == 1 && run["resting"] == 1)
                #expect(ContinuousClock.now - started < .seconds(8))
            }
        }
    }

    @Test func pacingKeepsABurstUnderThePerMinuteBudgetWithoutLosingPosts() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // B26 scaled down: 5 posts at once, a budget of 3 calls a minute, no time to wait in this run.
                let export = try ExportBuilder(messages: (1...5).map { Self.textPost($0, "пост \($0)") }).write(into: dir)
                let fake = try FakeBotAPI()
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, postsPerMinute: 3, maxInlineWait: .zero))
                #expect(run.outcome == "ok" && run["published"] == 3 && run["resting"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1", "[→en] пост 2", "[→en] пост 3"])
                let wait = try await h.count("SELECT ceil(extract(epoch FROM retry_at - now()))::int AS n FROM mirror.routes")
                #expect((55...61).contains(wait))
                try await h.database.withConnection { conn in
                    try conn.query("UPDATE mirror.routes SET retry_at = NULL")
                    try conn.query("UPDATE mirror.sent_messages SET sent_at = sent_at - interval '61 seconds'")
                }
                let next = try await PublishJob().run(try h.telegramContext(export: export, fake: fake, postsPerMinute: 3, maxInlineWait: .zero))
                #expect(next["published"] == 2)
                #expect(fake.channelMessages.map(\.text) == (1...5).map { "[→en] пост \($0)" })
            }
        }
    }

    @Test func sendCutOffWithoutAnAnswerIsSetAsideAsUncertainAndTheNextRunGoesOn() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // B30: the connection drops after the request went out; the post may or may not be in the channel.
                let export = try ExportBuilder(messages: (1...3).map { Self.textPost($0, "пост \($0)") }).write(into: dir)
                let fake = try FakeBotAPI()
                fake.script(.drop, atCall: 2)
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake))
                // The run stops there (an unanswered call is as likely the network as the post); the next one goes on.
                #expect(run["published"] == 1 && run["set_aside"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1"])
                let next = try await PublishJob().run(try h.telegramContext(export: export, fake: fake))
                #expect(next["published"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1", "[→en] пост 3"])
                let note = try await h.database.withConnection { conn in
                    try conn.query("SELECT x.state || ': ' || x.note AS n FROM mirror.publications x JOIN mirror.posts p ON p.id = x.post_id WHERE p.message_id = 2")
                        .first!.decode("n", as: String.self)
                }
                #expect(note.hasPrefix("uncertain: call 1 of the unit was interrupted"))
                // `status` lists it for the operator, with what to do.
                let status = try await MirrorStore(database: h.database).status()
                #expect(status.routes[0].setAside.map(\.messageID) == [2] && status.routes[0].setAside[0].reason == note)
                #expect(status.text().contains("set aside post") && status.text().contains("`JobRunner retry POST_ID` sends what is missing again"))
                // The operator looked at the channel and wants it sent: retry, and only that post goes out.
                let postID = try await h.count("SELECT id::int AS n FROM mirror.posts WHERE message_id = 2")
                _ = try await OperatorActions(database: h.database).retry(postID: Int64(postID))
                let again = try await PublishJob().run(try h.telegramContext(export: export, fake: fake))
                #expect(again["published"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1", "[→en] пост 3", "[→en] пост 2"])
            }
        }
    }

    @Test func aServerErrorIsUncertainNotRetriedBlindly() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // A 502 from a gateway may come after Telegram posted the message: sending it again could duplicate it.
                let export = try ExportBuilder(messages: (1...2).map { Self.textPost($0, "пост \($0)") }).write(into: dir)
                let fake = try FakeBotAPI()
                fake.script(.reply(status: 502, body: "<html><body>502 Bad Gateway</body></html>"), atCall: 1)
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake))
                #expect(run["set_aside"] == 1 && fake.recordedCalls.count == 1)
                #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.publications WHERE state = 'uncertain'") == 1)
            }
        }
    }

    @Test func aConnectionRefusedIsNotSentAndNothingIsSetAside() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // Nothing listens there: no byte reached Telegram, so the post simply waits for the next run.
                let export = try ExportBuilder(messages: [Self.textPost(1, "пост")]).write(into: dir)
                var config = try h.config(export: export)
                config.defaultRoute.destination = .telegram(chat: "@mirror_dst")
                config.telegram = Config.TelegramSettings(botToken: "123456789:AAHfakeTokenForTestsOnly0123456789ab", apiURL: "http://127.0.0.1:1")
                let context = JobContext(config: config, logger: h.logs.logger(level: .info), store: MirrorStore(database: h.database),
                                         translator: PseudoTranslator(), stop: StopSignal())
                let run = try await Pipeline().run(context)
                #expect(run.outcome == "failed" && run["set_aside"] == 0)
                #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.publications") == 0)
            }
        }
    }

    @Test func aUnitWhosePlanChangedAfterItsFirstMessagesIsSetAsideNotContinued() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let words = String(repeating: "Длинная подпись к фотографии. ", count: 40)
                let export = try ExportBuilder(messages: [
                    .init(id: 5, date: 1_760_000_005, parts: [.plain(words)], media: ("photo", "photos/p.jpg")),
                ]).write(into: dir)
                let fake = try FakeBotAPI()
                // The photo goes out, then flood control stops the unit before its continuation.
                fake.script(.reply(status: 429, body: #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 500","parameters":{"retry_after":500}}"#), atCall: 2)
                _ = try await Pipeline().run(try h.telegramContext(export: export, fake: fake))
                #expect(fake.channelMessages.count == 1)
                // Meanwhile the unit changed (here: its recorded plan no longer matches what it would send now).
                try await h.database.withConnection { conn in
                    try conn.query("UPDATE mirror.sent_messages SET plan_hash = 'an-older-plan'")
                    try conn.query("UPDATE mirror.routes SET retry_at = NULL")
                }
                let run = try await PublishJob().run(try h.telegramContext(export: export, fake: fake))
                #expect(run["set_aside"] == 1 && fake.channelMessages.count == 1)
                let note = try await h.database.withConnection { conn in
                    try conn.query("SELECT state || ': ' || note AS n FROM mirror.publications").first!.decode("n", as: String.self)
                }
                #expect(note.hasPrefix("failed: the unit changed after its first messages went out"))
            }
        }
    }

    @Test func resendPolicySendsAnUncertainPostAgainOnTheNextRun() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let export = try ExportBuilder(messages: (1...2).map { Self.textPost($0, "пост \($0)") }).write(into: dir)
                let fake = try FakeBotAPI()
                fake.script(.drop, atCall: 1)
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, resendUncertain: true))
                #expect(run.outcome == "failed" && run["published"] == 0)
                #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.publications") == 0)
                let next = try await PublishJob().run(try h.telegramContext(export: export, fake: fake, resendUncertain: true))
                #expect(next["published"] == 2)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1", "[→en] пост 2"])
            }
        }
    }

    @Test func refusedFormattingIsSentOnceAsPlainTextNeverRepeated() async throws {
        try await Harness.with { h in
            // B06: Telegram refuses the entities; the same payload is never sent again.
            let fake = try FakeBotAPI()
            fake.script(.reply(status: 400, body: #"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 930"}"#), atCall: 1)
            let run = try await Pipeline().run(try h.telegramContext(export: Paths.sampleExport, fake: fake))
            #expect(run.outcome == "ok" && run["published"] == 10)
            let calls = fake.recordedCalls
            #expect(calls[0].parameters["entities"] != nil && calls[1].parameters["entities"] == nil)
            #expect(calls[0].parameters["text"] as? String == calls[1].parameters["text"] as? String)
            #expect(fake.channelMessages.count == 6)
        }
    }

    @Test func unitTelegramRefusesForGoodIsSetAsideWithTheReasonAndOthersGoOut() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let export = try ExportBuilder(messages: (1...2).map { Self.textPost($0, "пост \($0)") }).write(into: dir)
                let fake = try FakeBotAPI()
                let body = try String(contentsOf: Paths.fixture("bot_api_updates/nutgram_fixtures/Responses_too_long.json"), encoding: .utf8)
                fake.script(.reply(status: 400, body: body), atCall: 1)
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake))
                #expect(run["published"] == 1 && run["set_aside"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 2"])
                let note = try await h.database.withConnection { conn in
                    try conn.query("SELECT state || ': ' || note AS n FROM mirror.publications WHERE state <> 'published'").first!.decode("n", as: String.self)
                }
                #expect(note == "failed: Telegram refused it: Bad Request: message is too long")
            }
        }
    }

    @Test func aRouteInStrictOrderWaitsAtARefusedPostUntilTheOperatorDecides() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                let export = try ExportBuilder(messages: (1...3).map { Self.textPost($0, "пост \($0)") }).write(into: dir)
                let fake = try FakeBotAPI()
                fake.script(.reply(status: 400, body: #"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#), atCall: 2)
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, strictOrder: true))
                #expect(run["published"] == 1 && run["set_aside"] == 1)
                let again = try await PublishJob().run(try h.telegramContext(export: export, fake: fake, strictOrder: true))
                #expect(again["published"] == 0 && again["waiting"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1"])
                // The operator skips it: the route goes on, still in order.
                let postID = try await h.count("SELECT id::int AS n FROM mirror.posts WHERE message_id = 2")
                _ = try await OperatorActions(database: h.database).retry(postID: Int64(postID))
                _ = try await OperatorActions(database: h.database).skip(postID: Int64(postID))
                let after = try await PublishJob().run(try h.telegramContext(export: export, fake: fake, strictOrder: true))
                #expect(after["published"] == 1)
                #expect(fake.channelMessages.map(\.text) == ["[→en] пост 1", "[→en] пост 3"])
            }
        }
    }

    @Test func botWithoutRightsFailsTheRouteWithTheFixAndKeepsThePost() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            fake.script(.reply(status: 403, body: #"{"ok":false,"error_code":403,"description":"Forbidden: bot is not a member of the channel chat"}"#), atCall: 1)
            let run = try await Pipeline().run(try h.telegramContext(export: Paths.sampleExport, fake: fake))
            #expect(run.outcome == "failed")
            #expect(run.errors.count == 1 && run.errors[0].contains("add it to the channel as an admin allowed to post messages"))
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.publications") == 0)
            // Nothing of the token in what the operator sees.
            #expect(!run.errors[0].contains(fake.token) && !h.logs.lines.joined().contains(fake.token))
        }
    }

    @Test func chineseExportPassesThroughTheBotAPIOnceInOrderWithinTheLimits() async throws {
        try await Harness.with { h in
            try await Paths.withTemporaryDirectory { dir in
                // The real export, with a small file at every photo path it names (the fixture holds no media).
                let source = try Paths.chineseExport
                let export = dir.appendingPathComponent("result.json")
                try FileManager.default.copyItem(at: source, to: export)
                let root = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
                let messages = (root["messages"] as! [[String: Any]]).filter { $0["type"] as? String == "message" }
                for case let path as String in messages.compactMap({ $0["photo"] }) where !path.hasPrefix("(") {
                    let url = dir.appendingPathComponent(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data("jpeg".utf8).write(to: url)
                }
                let fake = try FakeBotAPI()
                let run = try await Pipeline().run(try h.telegramContext(export: export, fake: fake, translator: PassThroughTranslator()))
                #expect(run.outcome == "ok")
                #expect(run["published"] == messages.count)
                // Every call was accepted (the fake refuses anything over Telegram's limits) and each arrived once.
                let sent = fake.channelMessages
                #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.sent_messages") == sent.count)
                #expect(Set(sent.map(\.id)).count == sent.count)
                #expect(sent.allSatisfy { $0.text.utf16.count <= ($0.kind == "text" ? 4096 : 1024) && $0.entities.count <= 100 })
                // In source order: each post's first message comes after the previous post's (a caption's
                // continuation may follow the rest of its album).
                let order = try await h.database.withConnection { conn in
                    try conn.query("""
                        SELECT p.message_id FROM mirror.sent_messages s JOIN mirror.posts p ON p.id = s.post_id
                        GROUP BY p.message_id ORDER BY min(s.message_id)
                        """).map { try $0.decode("message_id", as: Int64.self) }
                }
                #expect(order == order.sorted() && order.count > 800)
                // Pass-through: a post sent as one message carries exactly the export's entity texts.
                let byPost = try await h.database.withConnection { conn in
                    try conn.query("""
                        SELECT p.message_id, min(s.message_id) AS dest, count(*)::int AS n FROM mirror.sent_messages s
                        JOIN mirror.posts p ON p.id = s.post_id GROUP BY p.message_id
                        """).map { (try $0.decode("message_id", as: Int64.self), try $0.decode("dest", as: Int64.self), try $0.decode("n", as: Int.self)) }
                }
                let byID = Dictionary(uniqueKeysWithValues: sent.map { ($0.id, $0) })
                let kindNames = ["link": "url", "phone": "phone_number", "mention_name": "text_mention"]
                var compared = 0
                for (messageID, dest, count) in byPost where count == 1 {
                    let message = messages.first { ($0["id"] as! NSNumber).int64Value == messageID }!
                    let expected = (message["text_entities"] as! [[String: Any]]).compactMap { part -> String? in
                        // TDesktop writes an expandable quote as a collapsed blockquote.
                        let type = part["type"] as! String == "blockquote" && part["collapsed"] as? Bool == true ? "expandable_blockquote" : part["type"] as! String
                        guard type != "plain", !(part["text"] as! String).isEmpty else { return nil }
                        // B13: a text link's target goes out byte for byte.
                        let url = type == "text_link" ? " -> " + (part["href"] as! String) : ""
                        return "\(kindNames[type] ?? type):\(part["text"] as! String)\(url)"
                    }
                    #expect(byID[dest]!.entityTexts == expected, "message \(messageID)")
                    compared += 1
                }
                #expect(compared > 800)
            }
        }
    }
}

private typealias Part = ExportBuilder.Part

@Suite struct PublicationClaimTests {
    @Test func aRunWhoseClaimWasTakenOverCannotRecordOverIt() async throws {
        try await Harness.with { h in
            let store = MirrorStore(database: h.database)
            let post = SourcePost(chatID: -100, messageID: 1, date: Date(), content: FormattedText(text: "текст"))
            _ = try await store.importPosts([post], chatID: -100, newOffset: 1)
            let route = try await store.upsertRoute(RouteSpec(source: .desktopExport(path: "/x/result.json"), destination: .telegram(chat: "@mirror_dst"),
                                                              targetLanguage: LanguageCode("en")!), chatID: -100)
            let postID = Int64(try await h.count("SELECT id::int AS n FROM mirror.posts"))
            #expect(try await store.markPublishing(routeID: route.id, postIDs: [postID], claim: "run-A"))
            // A claim refreshed by its holder is not abandoned…
            #expect(try await !store.takeOverClaim(routeID: route.id, postIDs: [postID], olderThan: .seconds(120), claim: "run-B"))
            // …one left alone for longer is, and exactly one run takes it over.
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.publications SET updated_at = now() - interval '10 minutes'") }
            #expect(try await store.takeOverClaim(routeID: route.id, postIDs: [postID], olderThan: .seconds(120), claim: "run-B"))
            #expect(try await !store.takeOverClaim(routeID: route.id, postIDs: [postID], olderThan: .seconds(120), claim: "run-C"))
            // Run A wakes up: it can neither journal a call nor record the unit.
            await #expect(throws: MirrorStore.ClaimLost.self) {
                try await store.journal(routeID: route.id, claim: "run-A").beginSend(postIDs: [postID], step: 0)
            }
            await #expect(throws: MirrorStore.ClaimLost.self) {
                try await store.markPublished(routeID: route.id, postIDs: [postID], destinationIDs: [["9"]], lastMessageID: 1, claim: "run-A")
            }
            try await store.markPublished(routeID: route.id, postIDs: [postID], destinationIDs: [["9"]], lastMessageID: 1, claim: "run-B")
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.publications WHERE state = 'published'") == 1)
        }
    }
}
