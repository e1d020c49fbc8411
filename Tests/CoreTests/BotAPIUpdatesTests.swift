import Foundation
import Testing
import TestSupport

@testable import Core

/// Expected values were read from the fixture files with Python's json module (offsets cut on UTF-16 units),
/// not taken from what the parser returns.
@Suite struct BotAPIUpdatesTests {
    func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: Paths.fixture("bot_api_updates/" + name))
    }

    // MARK: Real getUpdates responses

    @Test func realChannelPostsPart1() throws {
        let batch = try BotAPIUpdates.parse(fixture("getUpdates_channel_posts_zh_url_entities_part1.json"))
        #expect(batch.lastUpdateID == 500_676_843)
        #expect(batch.nextOffset == 500_676_844)
        #expect(batch.ignoredCount == 0)
        #expect(batch.undecodableUpdateIDs.isEmpty)
        #expect(batch.warnings.isEmpty)
        #expect(batch.posts.map(\.updateID) == [500_676_841, 500_676_842, 500_676_843])
        #expect(batch.posts.map(\.post.messageID) == [18, 19, 20])
        #expect(batch.posts.allSatisfy { !$0.isEdit && $0.post.chatID == -1_001_241_558_182 && $0.chatTitle == "VVV talk" })
        #expect(batch.posts.map { $0.post.date.timeIntervalSince1970 } == [1_529_657_862, 1_529_659_551, 1_529_659_834])
        #expect(batch.posts.allSatisfy { $0.post.editDate == nil && $0.post.media.isEmpty && $0.post.albumID == nil && $0.post.linkPreview == nil })

        let first = batch.posts[0].post.content
        #expect(first.text == "https://nodeschool.io")
        #expect(first.entities == [MessageEntity(type: "url", offset: 0, length: 21)])
        #expect(first.substring(utf16: first.entities[0].range) == "https://nodeschool.io")
        let second = batch.posts[1].post.content
        #expect(second.substring(utf16: try #require(second.entities.first).range) == "https://twitter.com/rileytestut/status/1009927555602964480?s=12")
        // The \uXXXX escapes decode to Chinese; no entities on this one.
        #expect(batch.posts[2].post.content == FormattedText(text: "NES 才是永恒的游戏"))
    }

    @Test func realChannelPostsPart2UrlEntityCoversOnlyTheURL() throws {
        let batch = try BotAPIUpdates.parse(fixture("getUpdates_channel_posts_zh_url_entities_part2.json"))
        #expect(batch.nextOffset == 500_676_846)
        #expect(batch.posts.map(\.post.messageID) == [21, 22])
        let url = "https://userinterfacing.com/how-to-improve-on-naming-contexts-in-domain-driven-design/"
            + "?utm_campaign=elixir_radar_144&utm_medium=email&utm_source=RD+Station"
        for (post, units) in zip(batch.posts.map(\.post), [185, 230]) {
            #expect(post.content.utf16Length == units)
            let entity = try #require(post.content.entities.first)
            #expect(entity.length == 155)
            #expect(post.content.substring(utf16: entity.range) == url)
            #expect(post.content.entitiesAreValid)
        }
        #expect(batch.posts[0].post.content.text.hasSuffix(" Phoenix 1.3 更新之后，推荐使用 context"))
    }

    @Test func privateMessageIsIgnoredButItsBoldCoversHelloHelloAfterTheRocket() throws {
        let data = try fixture("getUpdates_private_message_emoji_bold_utf16_raw.json")
        let batch = try BotAPIUpdates.parse(data)
        #expect(batch.posts.isEmpty)
        #expect(batch.ignoredKinds == ["message": 1])
        #expect(batch.nextOffset == 337_194_971)

        // The same body decoded as models: the private message itself.
        struct Response: Decodable { var result: [BotAPIUpdate] }
        let update = try #require(try JSONDecoder().decode(Response.self, from: data).result.first)
        #expect(update.kind == "message")
        let message = try #require(update.message)
        #expect(message.messageID == 12146)
        #expect(message.chat.type == "private")
        var warnings: [String] = []
        let content = message.content(warnings: &warnings)
        #expect(warnings.isEmpty)
        #expect(content.text == "\u{1F680}Hello Hello")
        // 12 Characters but 13 UTF-16 units: the rocket is a surrogate pair.
        #expect(content.text.count == 12 && content.utf16Length == 13)
        let bold = try #require(content.entities.first)
        #expect(bold == MessageEntity(type: "bold", offset: 2, length: 11))
        #expect(content.substring(utf16: bold.range) == "Hello Hello")
    }

    @Test func webhookUpdateWithAlbumPhotoPicksTheLargestOfFourSizes() throws {
        let update = try BotAPIUpdates.parseUpdate(fixture("update_private_media_group_photo.json"))
        #expect(update.updateID == 63_218_709)
        #expect(update.kind == "message")
        let message = try #require(update.message)
        #expect(message.photo?.count == 4)
        #expect(message.mediaGroupID == "14156157298135530")
        let largest = try #require(message.largestPhoto)
        #expect(largest.fileID == "AgACAgIAAxkBAAPSaXi6LvfAHrXKcbxL-8wAAQrOGFPyAAINEWsb2v7JS4eHbP1KjpIRAQADAgADeQADOAQ")
        #expect(largest.width == 591 && largest.height == 1280 && largest.fileSize == 67498)
        var warnings: [String] = []
        let post = message.sourcePost(warnings: &warnings)
        #expect(post.albumID == "14156157298135530")
        #expect(post.media == [MediaDescriptor(
            kind: "photo", fileID: "AgACAgIAAxkBAAPSaXi6LvfAHrXKcbxL-8wAAQrOGFPyAAINEWsb2v7JS4eHbP1KjpIRAQADAgADeQADOAQ",
            fileSize: 67498, width: 591, height: 1280
        )])
        #expect(post.content.text.isEmpty)
        // A private message is not a channel post.
        let batch = BotAPIUpdates.batch(of: update)
        #expect(batch.posts.isEmpty && batch.ignoredKinds == ["message": 1] && batch.nextOffset == 63_218_710)
    }

    @Test func largestPhotoIsByAreaNotByFileSize() throws {
        // nutgram Updates_photo: 720x960 (84913 bytes) is the largest image; 600x800 has the biggest file (104893).
        let update = try BotAPIUpdates.parseUpdate(fixture("nutgram_fixtures/Updates_photo.json"))
        let message = try #require(update.message)
        #expect(message.largestPhoto?.fileID == "SAAS")
        var warnings: [String] = []
        #expect(message.sourcePost(warnings: &warnings).content.text == "asdasdasdasdasdasd")
    }

    @Test func nestedEntitiesAfterEmojiCoverTheRightWords() throws {
        let message = try #require(try BotAPIUpdates.parseUpdate(fixture("nutgram_fixtures/Updates_entities.json")).message)
        var warnings: [String] = []
        let content = message.content(warnings: &warnings)
        #expect(warnings.isEmpty)
        #expect(content.entities.map { content.substring(utf16: $0.range) } == ["bold", "underline", "look here", "here"])
        #expect(content.entities[2].url == "http://google.it/")
    }

    // MARK: Errors

    @Test func floodWaitBodyDecodesRetryAfter() throws {
        let data = try fixture("nutgram_fixtures/Responses_too_many_requests.json")
        let expected = BotAPIError(code: 429, description: "Too Many Requests: retry after 14", retryAfter: 14)
        #expect(BotAPIError.decode(data) == expected)
        #expect(throws: expected) { try BotAPIUpdates.parse(data) }
    }

    @Test func messageTooLongBodyDecodes() throws {
        let data = try fixture("nutgram_fixtures/Responses_too_long.json")
        let error = try #require(BotAPIError.decode(data))
        #expect(error.code == 400)
        #expect(error.description == "Bad Request: message is too long")
        #expect(error.retryAfter == nil && error.migrateToChatID == nil)
        #expect("\(error)" == "Bad Request: message is too long")
    }

    @Test func migrateToChatIDAndLenientErrorBodies() {
        let migrated = Data(#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#.utf8)
        #expect(BotAPIError.decode(migrated)?.migrateToChatID == -1_001_234_567_890)
        // A malformed error body is still an error, never a success.
        let odd = Data(#"{"ok":false,"error_code":"x","description":7}"#.utf8)
        #expect(throws: BotAPIError.self) { try BotAPIUpdates.parse(odd) }
        // Not an error body: success, garbage, other shapes.
        #expect(BotAPIError.decode(Data(#"{"ok":true,"result":[]}"#.utf8)) == nil)
        #expect(BotAPIError.decode(Data("<html>502 Bad Gateway</html>".utf8)) == nil)
        #expect(BotAPIError.decode(Data("[1,2]".utf8)) == nil)
    }

    // MARK: Synthetic shapes

    @Test func syntheticNutgramChannelPostsAreShapeTestsOnly() throws {
        // SOURCES.md: not faithful to Telegram (positive chat id, `from`, no edit_date); the parser says so.
        let post = BotAPIUpdates.batch(of: try BotAPIUpdates.parseUpdate(fixture("nutgram_fixtures/Updates_channel_post.json")))
        #expect(post.posts.count == 1)
        #expect(post.posts.first?.isEdit == false)
        #expect(post.posts.first?.post.content.text == "Ciao")
        #expect(post.posts.first?.post.chatID == 456)
        #expect(post.warnings.contains { $0.contains("not a Bot API channel id") })

        let edit = BotAPIUpdates.batch(of: try BotAPIUpdates.parseUpdate(fixture("nutgram_fixtures/Updates_edited_channel_post.json")))
        #expect(edit.posts.count == 1)
        #expect(edit.posts.first?.isEdit == true)
        #expect(edit.posts.first?.post.editDate == nil)
        #expect(edit.warnings.contains { $0.contains("without edit_date") })
    }

    @Test func editedChannelPostWithCaptionMediaAndPreview() throws {
        let json = #"""
        {"ok":true,"result":[
          {"update_id":10,"edited_channel_post":{"message_id":5,"date":1700000000,"edit_date":1700000100,
            "chat":{"id":-1001000000001,"type":"channel","title":"T","username":"t_chan"},
            "sender_chat":{"id":-1001000000001,"type":"channel","title":"T"},
            "caption":"😀 clip","caption_entities":[{"type":"italic","offset":3,"length":4},{"type":"custom_emoji","offset":0,"length":2,"custom_emoji_id":"5368324170671202286"}],
            "media_group_id":"g1","forward_origin":{"type":"channel","date":1},
            "video":{"file_id":"V1","file_unique_id":"u","width":1280,"height":720,"duration":31,"mime_type":"video/mp4","file_size":123456,"file_name":"a.mp4"},
            "link_preview_options":{"is_disabled":true}}},
          {"update_id":11,"channel_post":{"message_id":6,"date":1700000200,"chat":{"id":-1001000000001,"type":"channel"},
            "animation":{"file_id":"A1","width":320,"height":240,"duration":3},"document":{"file_id":"A1","file_name":"x.gif.mp4"}}},
          {"update_id":12,"channel_post":{"message_id":7,"date":1700000300,"chat":{"id":-1001000000001,"type":"channel"},
            "video_note":{"file_id":"N1","length":240,"duration":9}}},
          {"update_id":13,"channel_post":{"message_id":8,"date":1700000400,"chat":{"id":-1001000000001,"type":"channel"},
            "poll":{"id":"p","question":"Tea?","options":[{"text":"Yes"},{"text":"No"}]}}},
          {"update_id":14,"my_chat_member":{"chat":{"id":1}}}
        ]}
        """#
        let batch = try BotAPIUpdates.parse(Data(json.utf8))
        #expect(batch.nextOffset == 15)
        #expect(batch.ignoredKinds == ["my_chat_member": 1])
        #expect(batch.warnings.isEmpty)
        #expect(batch.posts.map(\.isEdit) == [true, false, false, false])
        let edited = batch.posts[0].post
        #expect(edited.editDate == Date(timeIntervalSince1970: 1_700_000_100))
        #expect(edited.albumID == "g1")
        #expect(edited.linkPreview == LinkPreview(isDisabled: true))
        #expect(edited.content.entities.map { edited.content.substring(utf16: $0.range) } == ["clip", "😀"])
        #expect(edited.content.entities[1].customEmojiID == "5368324170671202286")
        #expect(edited.media == [MediaDescriptor(
            kind: "video", fileID: "V1", fileName: "a.mp4", mimeType: "video/mp4", fileSize: 123456, width: 1280, height: 720, durationSeconds: 31
        )])
        // An animation also carries its file as `document`; one descriptor, not two.
        #expect(batch.posts[1].post.media.map(\.kind) == ["animation"])
        #expect(batch.posts[2].post.media == [MediaDescriptor(kind: "video_message", fileID: "N1", width: 240, height: 240, durationSeconds: 9)])
        #expect(batch.posts[3].post.media == [MediaDescriptor(kind: "poll", summary: "Tea? — Yes / No")])
    }

    @Test func entitiesOutsideTheTextOrSplittingASurrogatePairAreDroppedWithWarnings() throws {
        let json = #"""
        {"ok":true,"result":[{"update_id":1,"channel_post":{"message_id":3,"date":1700000000,"chat":{"id":-1001000000001,"type":"channel"},
          "text":"🚀ab","entities":[
            {"type":"bold","offset":1,"length":2},
            {"type":"italic","offset":2,"length":10},
            {"type":"code","offset":-1,"length":2},
            {"type":"underline","offset":0,"length":0},
            {"type":"strikethrough","offset":9223372036854775807,"length":9223372036854775807},
            {"type":"bold","offset":"2","length":1},
            "not an entity",
            {"type":"text_link","offset":2,"length":2,"url":"https://example.com"}]}}]}
        """#
        let batch = try BotAPIUpdates.parse(Data(json.utf8))
        let content = try #require(batch.posts.first?.post.content)
        #expect(content.entities == [MessageEntity(type: "text_link", offset: 2, length: 2, url: "https://example.com")])
        #expect(content.substring(utf16: content.entities[0].range) == "ab")
        #expect(batch.warnings.contains { $0.contains("splits a surrogate pair") })
        #expect(batch.warnings.filter { $0.contains("outside the text") }.count == 4)
        #expect(batch.warnings.contains { $0.contains("2 malformed entities") })
    }

    // MARK: Hostile input

    @Test func garbageAndWrongShapesThrowParseErrors() {
        let inputs = [
            "", "not json", "\u{0}\u{1}\u{2}", "[]", "{}", "null", "{\"ok\":\"yes\"}", "{\"ok\":true}", "{\"ok\":true,\"result\":5}",
            "{\"ok\":true,\"result\":{\"update_id\":1}}", "{\"ok\":true,\"result\":[", "{\"ok\":true,\"result\":[{\"update_id\":1,",
        ]
        for input in inputs {
            #expect(throws: BotAPIUpdates.ParseError.self, "input \(input.debugDescription)") { try BotAPIUpdates.parse(Data(input.utf8)) }
        }
        #expect(throws: BotAPIUpdates.ParseError.self) { try BotAPIUpdates.parseUpdate(Data("{\"update_id\":\"1\"}".utf8)) }
        #expect(throws: BotAPIUpdates.ParseError.self) { try BotAPIUpdates.parseUpdate(Data([0xFF, 0xFE, 0x00])) }
    }

    @Test func undecodableUpdatesAreSkippedButStillAdvanceTheOffset() throws {
        let json = #"""
        {"ok":true,"result":[1,"x",null,{"update_id":"7"},
          {"update_id":9,"channel_post":{"message_id":"bad","date":1,"chat":{"id":-1001000000001,"type":"channel"}}},
          {"update_id":8,"channel_post":{"message_id":4,"date":1700000000,"chat":{"id":-1001000000001,"type":"channel"},"text":7}}]}
        """#
        let batch = try BotAPIUpdates.parse(Data(json.utf8))
        #expect(batch.posts.isEmpty)
        #expect(batch.lastUpdateID == 9)
        #expect(batch.undecodableUpdateIDs == [9, 8])
        #expect(batch.warnings.count == 6)
    }

    @Test func truncatedRealResponsesThrowAtEveryCut() throws {
        let data = try fixture("getUpdates_channel_posts_zh_url_entities_part2.json")
        for cut in stride(from: 0, to: data.count - 1, by: 7) {
            #expect(throws: BotAPIUpdates.ParseError.self, "cut at \(cut)") { try BotAPIUpdates.parse(data.prefix(cut)) }
        }
    }

    @Test func mutatedRealResponsesNeverCrashAndKeepOnlyValidEntities() throws {
        let original = try [UInt8](fixture("getUpdates_channel_posts_zh_url_entities_part2.json"))
        var rng = SplitMix64(seed: 20_240_601)
        var parsed = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let index = Int(rng.next() % UInt64(bytes.count))
                // Digits keep the JSON valid more often, so entity offsets and ids get exercised, not just the tokenizer.
                bytes[index] = rng.next() % 2 == 0 ? UInt8(0x30 + rng.next() % 10) : UInt8(truncatingIfNeeded: rng.next())
            }
            guard let batch = try? BotAPIUpdates.parse(Data(bytes)) else { continue }
            parsed += 1
            #expect(batch.posts.allSatisfy { $0.post.content.entitiesAreValid })
        }
        // Some mutations keep the JSON valid; the invariant above was checked on those.
        #expect(parsed > 0)
    }
}

/// A small seeded generator, so a failing mutation can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
