import Foundation
import Testing
import TestSupport

@testable import Core
@testable import Jobs

/// Reading channels without a user account (Bot API `getUpdates`, the t.me/s web preview) and following
/// edits; field reports B22, B28, B29, B32, B33, B34.
@Suite struct TelegramSourceTests {
    static let vvv: Int64 = -1_001_241_558_182

    func botContext(_ h: Harness, fake: FakeBotAPI, source: SourceSpec = .botAPI(chat: String(vvv)), translator: any Translator = PassThroughTranslator()) throws -> JobContext {
        var config = try h.config(export: Paths.sampleExport)
        config.defaultRoute = RouteSpec(source: source, destination: .telegram(chat: fake.chat), targetLanguage: LanguageCode("en")!)
        config.telegram = Config.TelegramSettings(botToken: fake.token, apiURL: fake.baseURL, postsPerMinute: 100_000)
        return JobContext(config: config, logger: h.logs.logger(level: .info), store: MirrorStore(database: h.database), translator: translator, stop: StopSignal(),
                          http: HTTPClient())
    }

    static func post(_ id: Int64, updateID: Int64, text: String, date: Int = 1_700_000_000, edited: Int? = nil, extra: [String: Any] = [:]) -> [String: Any] {
        // Telegram sends `text` only on text messages (media carry `caption`).
        var message: [String: Any] = ["message_id": id, "date": date, "chat": ["id": vvv, "title": "VVV talk", "type": "channel"]]
        if !text.isEmpty { message["text"] = text }
        if let edited { message["edit_date"] = edited }
        message.merge(extra) { $1 }
        return ["update_id": updateID, edited == nil ? "channel_post" : "edited_channel_post": message]
    }

    @Test func recordedChannelPostsAreImportedConfirmedAndPublishedOnce() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            for part in ["part1", "part2"] {
                fake.enqueueUpdates(fromResponse: try Data(contentsOf: Paths.fixture("bot_api_updates/getUpdates_channel_posts_zh_url_entities_\(part).json")))
            }
            // A post of a chat no route reads (the bot is admin elsewhere too) is confirmed but not mirrored.
            fake.enqueueUpdate(["update_id": 500_676_846, "channel_post": ["message_id": 9, "date": 1_529_760_000, "text": "elsewhere",
                                                                          "chat": ["id": -1_009_999_999_999, "title": "Other", "type": "channel"]]])
            let run = try await Pipeline().run(try botContext(h, fake: fake))
            #expect(run.outcome == "ok" && run["fetched"] == 5 && run["published"] == 5)
            // B29: the next offset (last update_id + 1) is stored, in the database, with the posts.
            #expect(try await h.count("SELECT value::bigint AS n FROM mirror.source_cursors") == 500_676_847)
            let texts = try ["part1", "part2"].flatMap { part -> [String] in
                let root = try JSONSerialization.jsonObject(with: Data(contentsOf: Paths.fixture("bot_api_updates/getUpdates_channel_posts_zh_url_entities_\(part).json"))) as! [String: Any]
                return (root["result"] as! [[String: Any]]).map { ($0["channel_post"] as! [String: Any])["text"] as! String }
            }
            #expect(fake.channelMessages.map(\.text) == texts)
            // Part 2's url entity covers only the URL in front of the Chinese text, on the wire too.
            let last = fake.channelMessages[4]
            #expect(last.entityTexts == ["url:" + String(last.text.utf16.prefix(155))!])
            // A second run confirms nothing new and publishes nothing.
            let again = try await Pipeline().run(try botContext(h, fake: fake))
            #expect(again["fetched"] == 0 && again["published"] == 0)
            let offsets = fake.recordedCalls.filter { $0.method == "getUpdates" }.map { ($0.parameters["offset"] as? NSNumber)?.int64Value }
            #expect(offsets.first! == nil && offsets.dropFirst().allSatisfy { $0 == 500_676_847 })
        }
    }

    @Test func anEditIsTranslatedAgainAndEditedInPlaceAndAnUnchangedOneMakesNoCall() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            // B32: posted as a short note, edited 40 s later into three paragraphs.
            fake.enqueueUpdate(Self.post(700, updateID: 1, text: "СРОЧНО: взрыв в Х"))
            _ = try await Pipeline().run(try botContext(h, fake: fake, translator: PseudoTranslator()))
            let published = try #require(fake.channelMessages.first)
            #expect(published.text == "[→en] СРОЧНО: взрыв в Х")
            let full = "СРОЧНО: взрыв в Х.\n\nПодробности: пострадавших нет.\n\nСлужбы работают на месте."
            fake.enqueueUpdate(Self.post(700, updateID: 2, text: full, edited: 1_700_000_040))
            let edited = try await Pipeline().run(try botContext(h, fake: fake, translator: PseudoTranslator()))
            #expect(edited["edited"] == 1 && edited["edits_published"] == 1)
            let edits = fake.recordedCalls.filter { $0.method == "editMessageText" }
            #expect(edits.count == 1 && (edits[0].parameters["message_id"] as? NSNumber)?.int64Value == published.id)
            #expect(fake.channelMessages.map(\.text) == ["[→en] " + full])
            // "Message is not modified" is success: here the journal's fingerprint is stale, so the same text is sent.
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.sent_messages SET content_hash = 'stale'") }
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.posts SET revision = revision + 1") }
            let notModified = try await PublishJob().run(try botContext(h, fake: fake, translator: PseudoTranslator()))
            #expect(notModified.outcome == "ok" && notModified["edits_published"] == 1)
            #expect(fake.recordedCalls.filter { $0.method == "editMessageText" }.count == 2)
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.sent_messages WHERE content_hash = 'stale'") == 0)
            // B33: an edit that changes only reactions (same text) is no edit at all.
            fake.enqueueUpdate(Self.post(700, updateID: 3, text: full, edited: 1_700_000_090))
            let same = try await Pipeline().run(try botContext(h, fake: fake, translator: PseudoTranslator()))
            #expect(same["edited"] == 0 && same["edits_published"] == 0)
            #expect(fake.recordedCalls.filter { $0.method.hasPrefix("edit") }.count == 2)
        }
    }

    @Test func anEditWhoseTranslationIsUnchangedMakesNoCallAndALongerOneAddsAReply() async throws {
        try await Harness.with { h in
            // B33: the source fixes a typo that the translation does not show.
            struct IgnoresTypos: Translator {
                var name: String { "typos" }
                func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
                    TranslationOutput(content: FormattedText(text: text.text.replacingOccurrences(of: "Пирвет", with: "Привет")))
                }
            }
            let fake = try FakeBotAPI()
            fake.enqueueUpdate(Self.post(5, updateID: 1, text: "Пирвет, мир"))
            _ = try await Pipeline().run(try botContext(h, fake: fake, translator: IgnoresTypos()))
            fake.enqueueUpdate(Self.post(5, updateID: 2, text: "Привет, мир", edited: 1_700_000_100))
            let run = try await Pipeline().run(try botContext(h, fake: fake, translator: IgnoresTypos()))
            #expect(run["edited"] == 1 && run["edits_published"] == 1)  // the post changed and its publication is up to date…
            #expect(!fake.recordedCalls.contains { $0.method.hasPrefix("edit") })  // …without any call
            // The edit makes the text longer than one message: the first message is edited, the rest is a reply to it.
            let long = String(repeating: "Очень длинное продолжение новости. ", count: 150)
            fake.enqueueUpdate(Self.post(5, updateID: 3, text: long, edited: 1_700_000_200))
            _ = try await Pipeline().run(try botContext(h, fake: fake, translator: IgnoresTypos()))
            let messages = fake.channelMessages
            #expect(messages.count == 2 && messages[1].replyTo == messages[0].id)
            #expect(messages.allSatisfy { $0.text.utf16.count <= 4096 })
            #expect(messages[0].text + " " + messages[1].text == long.trimmingCharacters(in: .whitespaces))
            #expect(try await h.count("SELECT jsonb_array_length(destination_ids) AS n FROM mirror.publications") == 2)
        }
    }

    @Test func twoEditsOfOnePostInOnePageLeaveTheLaterOne() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            fake.enqueueUpdate(Self.post(7, updateID: 1, text: "первая версия"))
            _ = try await Pipeline().run(try botContext(h, fake: fake))
            fake.enqueueUpdate(Self.post(7, updateID: 2, text: "вторая версия", edited: 1_700_000_010))
            fake.enqueueUpdate(Self.post(7, updateID: 3, text: "третья версия", edited: 1_700_000_020))
            let run = try await Pipeline().run(try botContext(h, fake: fake))
            #expect(run["edited"] == 1 && run["edits_published"] == 1)
            #expect(fake.channelMessages.map(\.text) == ["третья версия"])
        }
    }

    @Test func anOlderCopyNeverTakesAPostBackToAnEarlierText() async throws {
        try await Harness.with { h in
            let store = MirrorStore(database: h.database)
            let newer = SourcePost(chatID: Self.vvv, messageID: 3, date: Date(timeIntervalSince1970: 1_700_000_000), editDate: Date(timeIntervalSince1970: 1_700_000_900),
                                   content: FormattedText(text: "исправлено"))
            _ = try await store.importPosts([newer], chatID: Self.vvv, newOffset: 3)
            var older = newer
            older.editDate = Date(timeIntervalSince1970: 1_700_000_100)
            older.content = FormattedText(text: "с опечаткой")
            #expect(try await store.importEdits([older]) == 0)
            var latest = newer
            latest.editDate = Date(timeIntervalSince1970: 1_700_001_000)
            latest.content = FormattedText(text: "ещё раз исправлено")
            #expect(try await store.importEdits([latest]) == 1)
        }
    }

    @Test func aSecondReaderOfTheBotsUpdatesStopsBeforeAskingTelegram() async throws {
        try await Harness.with { h in
            // B36/B37: a one-off beside the worker must not consume the same update queue.
            let fake = try FakeBotAPI()
            fake.enqueueUpdate(Self.post(1, updateID: 1, text: "пост"))
            try await h.database.withConnection { conn in
                try conn.query("INSERT INTO mirror.leases (name, holder, expires_at) VALUES ('fetch:botapi:123456789', 'worker.1:9:abcd', now() + interval '1 minute')")
            }
            let run = try await FetchJob().run(try botContext(h, fake: fake))
            #expect(run.outcome == "ok" && run["fetch_held"] == 1 && run["fetched"] == 0)
            #expect(!fake.recordedCalls.contains { $0.method == "getUpdates" })
            #expect(h.logs.lines.contains { $0.contains("skipped: fetch:botapi:123456789 held by worker.1:9:abcd") })
        }
    }

    @Test func anotherConsumerOfTheUpdatesIsNamedAsTheProblem() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            fake.script(.reply(status: 409, body: #"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}"#), for: "getUpdates")
            let run = try await FetchJob().run(try botContext(h, fake: fake))
            #expect(run.outcome == "failed")
            #expect(run.errors.count == 1 && run.errors[0].contains("another consumer reads this bot's updates"))
            #expect(try await h.count("SELECT count(*)::int AS n FROM mirror.source_cursors") == 0)
        }
    }

    @Test func updatesLastReadOverTwentyHoursAgoAreWarnedAbout() async throws {
        try await Harness.with { h in
            // B34: Telegram keeps undelivered updates for 24 hours; the job was down for longer than 20.
            let fake = try FakeBotAPI()
            _ = try await FetchJob().run(try botContext(h, fake: fake))
            #expect(!h.logs.lines.contains { $0.contains("over 20 hours ago") })
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.source_cursors SET last_success_at = now() - interval '21 hours'") }
            _ = try await FetchJob().run(try botContext(h, fake: fake))
            #expect(h.logs.lines.contains { $0.contains("level=warning") && $0.contains("over 20 hours ago") })
        }
    }

    @Test func aFreshAlbumWaitsUntilItSettlesThenGoesOutByFileIDWithThePreviewChoiceKept() async throws {
        try await Harness.with { h in
            let fake = try FakeBotAPI()
            let now = Int(Date().timeIntervalSince1970)
            let photo: (String) -> [String: Any] = { id in ["photo": [["file_id": id, "file_unique_id": id + "u", "width": 90, "height": 90],
                                                                      ["file_id": id + "-big", "file_unique_id": id + "U", "width": 1280, "height": 1280]]] }
            // B22: items 101 and 102 of album G arrived; 103 may still be on its way.
            fake.enqueueUpdate(Self.post(100, updateID: 1, text: "Смотрите: https://example.com/a", date: now - 5,
                                         extra: ["link_preview_options": ["is_disabled": true]]))
            fake.enqueueUpdate(Self.post(101, updateID: 2, text: "", date: now - 2, extra: photo("A").merging(["media_group_id": "G", "caption": "Фото дня"]) { $1 }))
            fake.enqueueUpdate(Self.post(102, updateID: 3, text: "", date: now - 1, extra: photo("B").merging(["media_group_id": "G"]) { $1 }))
            let first = try await Pipeline().run(try botContext(h, fake: fake))
            #expect(first["published"] == 1 && first["waiting"] == 2)
            let text = try #require(fake.recordedCalls.first { $0.method == "sendMessage" })
            #expect((text.parameters["link_preview_options"] as? [String: Any])?["is_disabled"] as? Bool == true)
            fake.enqueueUpdate(Self.post(103, updateID: 4, text: "", date: now - 1, extra: photo("C").merging(["media_group_id": "G"]) { $1 }))
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.posts SET posted_at = posted_at - interval '2 minutes'") }
            _ = try await FetchJob().run(try botContext(h, fake: fake))
            try await h.database.withConnection { conn in try conn.query("UPDATE mirror.posts SET posted_at = now() - interval '2 minutes' WHERE message_id = 103") }
            let second = try await PublishJob().run(try botContext(h, fake: fake))
            #expect(second["published"] == 3)
            let group = try #require(fake.recordedCalls.first { $0.method == "sendMediaGroup" })
            let media = try #require(group.parameters["media"] as? [[String: Any]])
            #expect(media.map { $0["media"] as? String } == ["A-big", "B-big", "C-big"])  // the largest size, by file_id
            #expect(media[0]["caption"] as? String == "Фото дня" && group.files.isEmpty)
        }
    }

    @Test func webPreviewIsPagedBackToTheOffsetAndMissingIdsAreRecordedAsGaps() async throws {
        try await Harness.with { h in
            let page = try Data(contentsOf: Paths.fixture("tme_s_html/durov_tme_s_channel_feed_en.html"))
            let server = try LocalHTTPServer { _ in .respond(status: 200, headers: [("content-type", "text/html")], body: page) }
            let chatID = SourceSpec.webPreviewChatID("durov")
            // A stored offset of 515: the page shows 519…539 (530 missing), so an older page is asked for.
            try await h.database.withConnection { conn in
                try conn.query("INSERT INTO mirror.source_offsets (chat_id, last_message_id) VALUES ($1, 515)", [chatID])
            }
            var config = try h.config(export: Paths.sampleExport)
            config.defaultRoute.source = .webPreview(channel: "durov")
            let context = JobContext(config: config, logger: h.logs.logger(level: .info), store: MirrorStore(database: h.database),
                                     translator: PseudoTranslator(), stop: StopSignal(),
                                     makeSource: { _ in WebPreviewSource(channel: "durov", baseURL: server.baseURL, http: HTTPClient()) })
            let run = try await FetchJob().run(context)
            #expect(run["fetched"] == 20)
            // Page 1, then ?before=519; the server answers the same page again, which ends the paging.
            #expect(server.requests.map(\.path) == ["/s/durov", "/s/durov?before=519"])
            let gaps = try await h.database.withConnection { conn in
                try conn.query("SELECT from_id || '-' || to_id AS r FROM mirror.source_gaps ORDER BY from_id").map { try $0.decode("r", as: String.self) }
            }
            #expect(gaps == ["516-518", "530-530"])
            let status = try await MirrorStore(database: h.database).status()
            #expect(status.routes[0].gaps == 4 && status.text().contains("4 message id(s) never seen in the source (gaps): 516-518, 530"))
            #expect(try await h.count("SELECT last_message_id::int AS n FROM mirror.source_offsets") == 539)
        }
    }
}
