import Foundation
import Testing
import TestSupport

@testable import Core

@Suite struct TelegramDesktopExportTests {
    /// The export's own (type, text) parts that carry formatting, read independently with JSONSerialization.
    func exportEntityTexts(_ url: URL) throws -> [Int64: [(type: String, text: String)]] {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var result: [Int64: [(String, String)]] = [:]
        for case let message as [String: Any] in root["messages"] as! [Any] where message["type"] as? String == "message" {
            let id = (message["id"] as! NSNumber).int64Value
            result[id] = (message["text_entities"] as? [[String: Any]] ?? []).compactMap { part in
                let type = part["type"] as! String
                let text = part["text"] as! String
                return type == "plain" || text.isEmpty ? nil : (type, text)
            }
        }
        return result
    }

    @Test func chineseExportEveryEntityCoversExactlyTheExportsText() throws {
        let url = try Paths.chineseExport
        let batch = try TelegramDesktopExport.parse(Data(contentsOf: url))
        let expected = try exportEntityTexts(url)
        #expect(batch.posts.count == 908)
        var astral = 0
        var total = 0
        for post in batch.posts {
            let parts = try #require(expected[post.messageID])
            let covered = post.content.entities.map { post.content.substring(utf16: $0.range) }
            #expect(covered == parts.map { Optional($0.text) }, "message \(post.messageID)")
            #expect(post.content.entitiesAreValid)
            total += post.content.entities.count
            astral += post.content.entities.filter { e in
                post.content.substring(utf16: e.range)?.unicodeScalars.contains { $0.value > 0xFFFF } == true
                    || post.content.substring(utf16: 0..<e.offset)?.unicodeScalars.contains { $0.value > 0xFFFF } == true
            }.count
        }
        // SOURCES.md: hashtag 4375, text_link 3337, code 1246, bold 679, blockquote 101, italic 76, link 30,
        // strikethrough 7, pre 6, underline 2, email 1, phone 1, bot_command 1.
        #expect(total == 9862)
        let byType = Dictionary(grouping: batch.posts.flatMap(\.content.entities), by: \.type).mapValues(\.count)
        #expect(byType["hashtag"] == 4375)
        #expect(byType["text_link"] == 3337)
        #expect(byType["code"] == 1246)
        #expect(byType["url"] == 30)
        #expect(byType["phone_number"] == 1)
        #expect((byType["blockquote"] ?? 0) + (byType["expandable_blockquote"] ?? 0) == 101)
        #expect(byType["pre"] == 6)
        // Entities at or after an emoji: the UTF-16 arithmetic is exercised, not just ASCII.
        #expect(astral > 100)
        // text_link targets are kept.
        #expect(batch.posts.flatMap(\.content.entities).filter { $0.type == "text_link" }.allSatisfy { $0.url?.isEmpty == false })
    }

    @Test func russianExportCountsAndEntities() throws {
        let url = try Paths.russianExport
        let batch = try TelegramDesktopExport.parse(Data(contentsOf: url))
        let expected = try exportEntityTexts(url)
        // SOURCES.md: 3719 messages = 3717 posts + 2 service.
        #expect(batch.posts.count == 3717)
        #expect(batch.chatID == -1_002_447_843_635)
        #expect(batch.title == "ГУЗЕЛЬСКИЕ ПЕРЕЗАЛИВЫ")
        #expect(batch.lastMessageID == 3856)
        for post in batch.posts {
            let covered = post.content.entities.map { post.content.substring(utf16: $0.range) }
            #expect(covered == expected[post.messageID]!.map { Optional($0.text) }, "message \(post.messageID)")
        }
        // SOURCES.md: 2516 posts are media-only (empty text).
        #expect(batch.posts.filter { $0.content.text.isEmpty }.count == 2516)
        #expect(batch.posts.filter { $0.content.text.isEmpty }.allSatisfy { !$0.media.isEmpty && !$0.needsTranslation })
        // Media: 2849 video_file, 699 photos, 80 video_message, 1 each of animation, voice_message, audio_file.
        let kinds = Dictionary(grouping: batch.posts.flatMap(\.media), by: \.kind).mapValues(\.count)
        #expect(kinds == ["video": 2849, "photo": 699, "video_message": 80, "animation": 1, "voice": 1, "audio": 1])
        // custom_emoji entities: the export names a sticker file, never a numeric id.
        let emoji = batch.posts.flatMap(\.content.entities).filter { $0.type == "custom_emoji" }
        #expect(emoji.count == 1324)
        #expect(emoji.allSatisfy { $0.customEmojiID == nil })
        // Exported files that were not downloaded have no local path.
        #expect(batch.posts.flatMap(\.media).filter { $0.kind == "video" }.allSatisfy { $0.path == nil })
    }

    @Test func albumsAreConsecutiveSameTimestampMediaOfOneClassAtMostTen() throws {
        let batch = try TelegramDesktopExport.parse(Data(contentsOf: Paths.russianExport))
        let albums = Dictionary(grouping: batch.posts.filter { $0.albumID != nil }, by: { $0.albumID! })
        #expect(!albums.isEmpty)
        for (id, items) in albums {
            #expect((2...10).contains(items.count), "album \(id)")
            #expect(Set(items.map(\.date)).count == 1)
            #expect(items.allSatisfy { $0.media.count == 1 && $0.media[0].canBeInAlbum })
            #expect(String(items.map(\.messageID).min()!) == id)
        }
        // Every run of consecutive same-timestamp album-capable posts is covered by albums.
        for (a, b) in zip(batch.posts, batch.posts.dropFirst())
        where a.date == b.date && a.media.first?.canBeInAlbum == true && b.media.first?.canBeInAlbum == true
            && (a.media[0].kind == "audio") == (b.media[0].kind == "audio") {
            // …unless the first album already holds Telegram's maximum of ten items.
            #expect(a.albumID != nil && (b.albumID != nil || albums[a.albumID!]!.count == 10))
        }
    }

    @Test func sampleExportShapes() throws {
        let batch = try TelegramDesktopExport.parse(Data(contentsOf: Paths.sampleExport))
        #expect(batch.chatID == -1_001_000_000_001)
        #expect(batch.posts.map(\.messageID) == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12])
        #expect(batch.lastMessageID == 12)
        let byID = Dictionary(uniqueKeysWithValues: batch.posts.map { ($0.messageID, $0) })
        #expect(byID[4]?.albumID == "4" && byID[5]?.albumID == "4" && byID[6]?.albumID == "4")
        #expect(byID[7]?.albumID == nil)
        #expect(byID[4]?.media.first?.path == "photos/photo_1@09-10-2025_09-00-00.jpg")
        #expect(byID[7]?.media.first?.path == nil)
        #expect(byID[11]?.media.first?.kind == "poll")
        #expect(byID[11]?.media.first?.summary == "Нравится зеркало? — Да / Нет")
        #expect(byID[12]?.editDate == Date(timeIntervalSince1970: 1_760_001_000))
        let nine = try #require(byID[9])
        #expect(nine.content.entities.map(\.type) == ["mention", "email", "url", "spoiler", "expandable_blockquote"])
        let two = try #require(byID[2])
        #expect(two.content.entities.last?.url == "https://example.com/mirror?a=1&b=2")
    }

    @Test func offsetFiltersButKeepsAlbumIds() throws {
        let batch = try TelegramDesktopExport.parse(Data(contentsOf: Paths.sampleExport), after: 4)
        #expect(batch.posts.map(\.messageID) == [5, 6, 7, 8, 9, 11, 12])
        #expect(batch.posts.first?.albumID == "4")
    }

    @Test(arguments: [
        ("", "not valid JSON"),
        ("{\"name\": \"x\"", "not valid JSON"),
        ("[1, 2, 3]", "unexpected value"),
        ("{\"id\": 5, \"chats\": {\"list\": []}}", "no \"messages\" array"),
        ("{\"about\": \"whole account\", \"chats\": {\"list\": []}}", "whole-account export"),
        ("{\"id\": 5, \"messages\": [{\"id\": \"seven\", \"type\": \"message\"}]}", "messages"),
    ])
    func garbageIsAClearErrorNamingTheFix(input: String, reason: String) {
        let error = #expect(throws: TelegramDesktopExport.ReadError.self) {
            try TelegramDesktopExport.parse(Data(input.utf8), path: "/tmp/result.json")
        }
        #expect(error?.description.contains(reason) == true)
        #expect(error?.description.contains("Export chat history") == true)
        #expect(error?.description.contains("\n") == false)
    }
}

@Suite struct OddExportTests {
    func export(_ messages: String) -> Data {
        Data("{\"name\": \"Odd\", \"type\": \"public_channel\", \"id\": 77, \"messages\": [\(messages)]}".utf8)
    }

    @Test func dateOutOfRangeIsAClearErrorNamingTheField() {
        let error = #expect(throws: TelegramDesktopExport.ReadError.self) {
            try TelegramDesktopExport.parse(export(#"{"id": 1, "type": "message", "date_unixtime": "1000000000000000", "text": "", "text_entities": []}"#))
        }
        #expect(error?.description.contains("invalid value at .messages[0].date_unixtime") == true)
    }

    @Test func textWithoutTextEntitiesFallsBackToTheTextField() throws {
        let batch = try TelegramDesktopExport.parse(export("""
            {"id": 1, "type": "message", "date_unixtime": "1700000000", "text": "plain 😀 words"},
            {"id": 2, "type": "message", "date_unixtime": "1700000001", "text": ["a ", {"type": "bold", "text": "b"}, " c"]}
            """))
        #expect(batch.posts[0].content == FormattedText(text: "plain 😀 words"))
        #expect(batch.posts[1].content == FormattedText(text: "a b c", entities: [MessageEntity(type: "bold", offset: 2, length: 1)]))
    }

    @Test func contactsAndDuplicateIdsAreKeptVisible() throws {
        let batch = try TelegramDesktopExport.parse(export("""
            {"id": 1, "type": "message", "date_unixtime": "1700000000", "contact_information": {"first_name": "Ada", "last_name": "L", "phone_number": "+100"}, "text": "", "text_entities": []},
            {"id": 2, "type": "message", "date_unixtime": "1700000001", "text": "first", "text_entities": [{"type": "plain", "text": "first"}]},
            {"id": 2, "type": "message", "date_unixtime": "1700000002", "text": "second", "text_entities": [{"type": "plain", "text": "second"}]}
            """))
        #expect(batch.posts.map(\.messageID) == [1, 2])
        #expect(batch.posts[0].media == [MediaDescriptor(kind: "contact", summary: "Ada L")])
        #expect(batch.posts[1].content.text == "first")
        #expect(batch.warnings == ["message ids appear more than once in the export; the first of each was kept: 2"])
    }
}
