import Foundation
import Testing
import TestSupport

@testable import Core

/// Expected values were read from the fixture HTML with grep and Python's html.parser (offsets cut on UTF-16
/// units), not taken from what the parser returns.
@Suite struct WebPreviewPageTests {
    func page(_ name: String, channel: String) throws -> WebPreviewPage {
        let html = try String(contentsOf: Paths.fixture("tme_s_html/" + name), encoding: .utf8)
        return try WebPreviewPage.parse(html: html, channel: channel)
    }

    var durov: WebPreviewPage { get throws { try page("durov_tme_s_channel_feed_en.html", channel: "durov") } }
    var prstnk: WebPreviewPage { get throws { try page("prstnk_eprst_tme_s_ru_small_channel.html", channel: "prstnk_eprst") } }

    func date(_ iso: String) throws -> Date { try #require(ISO8601DateFormatter().date(from: iso)) }

    /// A minimal preview page around one message widget.
    func page(message inner: String, id: Int64 = 7, classes: String = "") throws -> WebPreviewPage {
        let html = """
            <html><body><section class="tgme_channel_history js-message_history">
            <div class="tgme_widget_message_wrap"><div class="tgme_widget_message \(classes) js-widget_message" data-post="chan/\(id)">
            \(inner)
            <div class="tgme_widget_message_footer"><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/chan/\(id)"><time datetime="2026-01-02T03:04:05+00:00" class="time">03:04</time></a></span></div>
            </div></div></section></body></html>
            """
        return try WebPreviewPage.parse(html: html, channel: "chan")
    }

    func text(_ html: String) throws -> FormattedText {
        try #require(try page(message: "<div class=\"tgme_widget_message_text js-message_text\" dir=\"auto\">\(html)</div>").posts.first).content
    }

    func covered(_ content: FormattedText) -> [String?] { content.entities.map { content.substring(utf16: $0.range) } }

    // MARK: durov page

    @Test func durovPageHasTwentyPostsAndTheGapAt530() throws {
        let page = try durov
        #expect(page.posts.count == 20)
        #expect(page.posts.map(\.messageID) == Array(519...529) + Array(531...539))
        #expect(page.serviceMessageIDs.isEmpty)
        #expect(page.warnings.isEmpty)
        #expect(page.title == "Pavel Durov")
        #expect(page.missingIDs(after: 518) == [530])
        #expect(WebPreviewPage.missingIDs(after: 518, seen: page.seenMessageIDs) == [530])
        // Nothing after 539 is known to exist; an offset past the page finds no gap.
        #expect(page.missingIDs(after: 539).isEmpty)
        // With an older offset the page does not reach back: 501…518 are not on it.
        #expect(page.missingIDs(after: 500) == Array(501...518) + [530])
        #expect(!page.reachesBack(to: 500))
        #expect(page.reachesBack(to: 518))
    }

    @Test func durovPagination() throws {
        let page = try durov
        // <link rel="canonical" href="/s/durov?before=540">: this page itself.
        #expect(page.canonicalBefore == 540)
        // <link rel="prev" href="/s/durov?before=519"> and data-before="519" on the "load more" link: the older page.
        #expect(page.beforeCursor == 519)
    }

    @Test func durovDatesAndEditedMarkers() throws {
        let posts = try durov.posts
        #expect(posts.first?.date == (try date("2026-05-20T15:38:10+00:00")))
        #expect(posts.last?.date == (try date("2026-08-08T21:11:14+00:00")))
        // The footers of 521, 527, 535 and 538 say "edited".
        #expect(posts.filter(\.isEdited).map(\.messageID) == [521, 527, 535, 538])
    }

    @Test func durovPost521TextAndEntities() throws {
        let post = try #require(try durov.posts.first { $0.messageID == 521 })
        let expected = "💎 TON’s native currency is becoming Gram.\n\n🤑 Gram was the original name of TON’s currency in the first white paper.\n\n"
            + "🌱 We’re returning to our roots — and starting a new chapter.\n\n✈️ This rebranding will pave the way for what comes next.\n\n"
            + "⏳ The transition will take around 3 weeks. \n\n💪 TON remains the name of the blockchain.\n\n🪙 This is step 4 of 7 to Make TON Great Again."
        #expect(post.content.text == expected)
        #expect(post.content.utf16Length == 377)
        #expect(post.content.entitiesAreValid)
        let bold = post.content.entities.filter { $0.type == "bold" }
        #expect(bold.map { post.content.substring(utf16: $0.range) } == ["TON", "Gram", "TON", "what comes next", "3 weeks", "TON", " 4 ", "7"])
        let emoji = post.content.entities.filter { $0.type == "custom_emoji" }
        #expect(emoji.map(\.customEmojiID) == [
            "5471952986970267163", "5350716797622442220", "5449885771420934013", "5436069918191702409", "5451732530048802485",
            "5242529655222720177", "5296339823005557585",
        ])
        #expect(emoji.map(\.offset) == [0, 44, 119, 182, 241, 286, 330])
        #expect(emoji.map { post.content.substring(utf16: $0.range) } == ["💎", "🤑", "🌱", "✈️", "⏳", "💪", "🪙"])
        let links = post.content.entities.filter { $0.type == "text_link" }
        #expect(links.map(\.url) == ["https://gram.org/", "https://t.me/durov/482"])
        #expect(links.map { post.content.substring(utf16: $0.range) } == ["Gram", "Make TON Great Again"])
        #expect(post.linkPreviewURL == "https://gram.org/")
        #expect(post.media.isEmpty && !post.unsupported)
    }

    @Test func durovWholePageEntityCounts() throws {
        let posts = try durov.posts
        let all = posts.flatMap(\.content.entities)
        let byType = Dictionary(grouping: all, by: \.type).mapValues(\.count)
        // html.parser over the 19 text divs: 103 <b>, of which 67 sit inside <i class="emoji"> images; 5 real <i>;
        // 62 <tg-emoji>; 15 <a>, one of them "@contest" → https://t.me/contest.
        #expect(byType == ["bold": 36, "italic": 5, "custom_emoji": 62, "text_link": 14, "mention": 1])
        #expect(posts.allSatisfy { $0.content.entitiesAreValid })
        // The <b> inside an emoji image is presentation: no bold covers a custom emoji's range.
        for post in posts {
            let emojiRanges = Set(post.content.entities.filter { $0.type == "custom_emoji" }.map(\.range))
            #expect(!post.content.entities.contains { $0.type == "bold" && emojiRanges.contains($0.range) }, "post \(post.messageID)")
        }
        let mention = try #require(posts.first { $0.messageID == 527 }?.content)
        let m = try #require(mention.entities.first { $0.type == "mention" })
        #expect(mention.substring(utf16: m.range) == "@contest" && m.url == nil)
        // 528: italic runs with links inside them cover the same words.
        let p528 = try #require(posts.first { $0.messageID == 528 }?.content)
        let italic = p528.entities.filter { $0.type == "italic" }.map { p528.substring(utf16: $0.range) }
        #expect(italic == ["P. S. More about digital freedom in ", "my speech", " — the source material for our $200,000 ", "clipping contest", "."])
        #expect(p528.entities.filter { $0.type == "text_link" }.map(\.offset) == [949, 998])
        // "&#33;" and "&#39;" in 539 are decoded.
        let p539 = try #require(posts.first { $0.messageID == 539 }?.content.text)
        #expect(p539.contains("Well done! ") && p539.contains("I'm equally happy") && p539.contains("($106,500+)"))
    }

    @Test func durovMedia() throws {
        let posts = try durov.posts
        #expect(posts.filter { $0.media.first?.kind == "video" }.map(\.messageID) == [519, 523, 524, 526, 531, 532])
        #expect(posts.filter { $0.media.first?.kind == "photo" }.map(\.messageID) == [522, 536, 537])
        #expect(posts.allSatisfy { $0.media.count <= 1 && $0.albumID == nil })
        let video = try #require(posts.first?.media.first)
        #expect(video.durationSeconds == 9)
        #expect(video.summary?.hasPrefix("https://cdn4.telesco.pe/file/e174be993b.mp4?token=") == true)
        // 522 is a photo without text; it is shown, so it is not "unsupported".
        let photo = try #require(posts.first { $0.messageID == 522 })
        #expect(photo.content.text.isEmpty)
        #expect(photo.media.first?.summary?.hasPrefix("https://cdn4.telesco.pe/file/") == true)
        // Every post carries the hidden "Please open Telegram" fallback for old browsers; none is unsupported.
        #expect(posts.allSatisfy { !$0.unsupported })
        #expect(posts.filter { $0.linkPreviewURL != nil }.map(\.messageID) == [521, 525, 538, 539])
    }

    // MARK: prstnk page

    @Test func prstnkSmallChannelWithServiceMessageAndHashtag() throws {
        let page = try prstnk
        #expect(page.posts.map(\.messageID) == [2])
        #expect(page.serviceMessageIDs == [1])
        #expect(page.seenMessageIDs == [1, 2])
        #expect(page.canonicalBefore == 3)
        // The channel's first message is on the page: there is no older page.
        #expect(page.beforeCursor == nil)
        #expect(page.missingIDs(after: 0).isEmpty)
        #expect(page.title == "PRSTNK - [простенок]")
        let post = try #require(page.posts.first)
        #expect(post.date == (try date("2026-05-30T22:25:08+00:00")))
        #expect(!post.isEdited)
        #expect(post.content.text == "Как Штапаков травит цинк в Смольном\nЗашли в мастерскую офорта — сняли весь процесс: грунтовка, игла, кислота.\n#репортаж")
        #expect(post.content.entities == [MessageEntity(type: "hashtag", offset: 110, length: 9)])
        #expect(post.content.substring(utf16: 110..<119) == "#репортаж")
        #expect(post.media.map(\.kind) == ["photo"])
        #expect(post.media.first?.summary?.hasPrefix("https://cdn4.telesco.pe/file/XS-2wXZ8Br9GfL7__p9sM5b7KoTojPTwlBzoGMjLGdNH6DxvSnJiQIQEwhl8iZveBrE0MIJN4nDZ6GVxyOcQx9uSXBS1F4VVWIUDGxsCwOo6U0qGNSt3SWY1Rpge6Q99ZG4u3sheQ0zQwP9ZwdRPBgn3tsq8rdLA1CDBYb0aq2rjuGJAs6IjRFfazm46ZffpGZsIF8L_RlYVL7987V_nScC8szWT6L4gBdxcz1TxtcQRbq0XbSss631IJf4BN-bGsH5C0c5G7gyL9wmejHmSZWEkSLpVasRYOVNPbGHpwS7LHq-YP6L-WtzmKV6g-KKv2aDNkoOlE5iohn6FUe2IKA.jpg") == true)
        let source = post.sourcePost(chatID: -1_003_976_510_481)
        #expect(source.messageID == 2 && source.content == post.content && source.linkPreview == nil)
    }

    @Test func dataPostOfAnotherChannelIsSkipped() throws {
        let other = try page("durov_tme_s_channel_feed_en.html", channel: "someone_else")
        #expect(other.posts.isEmpty)
        #expect(other.warnings.count == 20)
        // Channel names are case-insensitive.
        #expect(try page("durov_tme_s_channel_feed_en.html", channel: "Durov").posts.count == 20)
    }

    // MARK: Formatting reconstruction

    @Test func everySupportedTagBecomesItsEntity() throws {
        let content = try text(
            "<b>b</b> <strong>st</strong> <i>i</i> <em>em</em> <u>u</u> <s>s</s> <del>del</del> <tg-spoiler>sp</tg-spoiler> "
                + "<span class=\"tg-spoiler\">sp2</span> <code>c</code> <pre><code class=\"language-swift\">let x</code></pre>"
                + "<blockquote>q</blockquote><span class=\"other\">plain</span><unknown>u2</unknown>"
        )
        #expect(content.text == "b st i em u s del sp sp2 c let xqplainu2")
        #expect(content.entities.map(\.type) == [
            "bold", "bold", "italic", "italic", "underline", "strikethrough", "strikethrough", "spoiler", "spoiler", "code", "pre", "blockquote",
        ])
        #expect(covered(content) == ["b", "st", "i", "em", "u", "s", "del", "sp", "sp2", "c", "let x", "q"])
        #expect(content.entities.first { $0.type == "pre" }?.language == "swift")
    }

    @Test func linksAreClassifiedAndHrefsUnescapedExactlyOnce() throws {
        let content = try text(
            "<a href=\"https://example.com/?a=1&amp;b=2\">here</a> <a href=\"https://example.com/?q=&amp;amp;\">lit</a> "
                + "<a href=\"https://example.com\">example.com</a> <a href=\"http://t.me/x\">http://t.me/x</a> "
                + "<a href=\"https://t.me/durov\">@durov</a> <a href=\"https://t.me/durov\">@other</a> "
                + "<a href=\"?q=%23tag\">#tag</a> <a href=\"?q=%24TON\">$TON</a> <a href=\"mailto:a@b.c\">a@b.c</a> <a>no href</a>"
        )
        #expect(content.entities.map(\.type) == ["text_link", "text_link", "url", "url", "mention", "text_link", "hashtag", "cashtag", "email"])
        #expect(covered(content) == ["here", "lit", "example.com", "http://t.me/x", "@durov", "@other", "#tag", "$TON", "a@b.c"])
        // B28b: the published URL equals the source URL; `&amp;amp;` was an `&amp;` in the source.
        #expect(content.entities[0].url == "https://example.com/?a=1&b=2")
        #expect(content.entities[1].url == "https://example.com/?q=&amp;")
        #expect(content.entities[5].url == "https://t.me/durov")
        #expect(content.entities.filter { $0.type != "text_link" }.allSatisfy { $0.url == nil })
    }

    @Test func characterReferencesEmojiAndUTF16Offsets() throws {
        let content = try text(
            "&lt;b&gt; &amp; &quot;q&quot; &#39;a&#39; &#128512;&#x1F680; &#0; &#xD800; &bogus; &amp<br/>"
                + "<i class=\"emoji\" style=\"background-image:url('x.png')\"><b>👨‍👩‍👧</b></i><b>hi</b> "
                + "<tg-emoji emoji-id=\"5368324170671202286\"><i class=\"emoji\"><b>🔥</b></i></tg-emoji><tg-emoji emoji-id=\"12\"></tg-emoji>"
        )
        #expect(content.text == "<b> & \"q\" 'a' 😀🚀 \u{FFFD} \u{FFFD} &bogus; &amp\n👨‍👩‍👧hi 🔥")
        // The family emoji is 8 UTF-16 units; "hi" starts after it.
        let bold = try #require(content.entities.first)
        #expect(bold.type == "bold" && content.substring(utf16: bold.range) == "hi")
        let emoji = try #require(content.entities.last)
        #expect(emoji.type == "custom_emoji" && emoji.customEmojiID == "5368324170671202286" && content.substring(utf16: emoji.range) == "🔥")
        // The empty <tg-emoji> has no text to cover and is dropped.
        #expect(content.entities.count == 2)
    }

    @Test func albumIsOnePostWithSeveralMediaAndItsItemsCountAsSeen() throws {
        let album = try page(message: """
            <div class="tgme_widget_message_grouped_wrap"><div class="tgme_widget_message_grouped">
            <a class="tgme_widget_message_photo_wrap grouped_media_wrap" href="https://t.me/chan/10?single" style="width:100px;background-image:url('https://cdn/a.jpg')"></a>
            <a class="tgme_widget_message_video_player grouped_media_wrap" href="https://t.me/chan/11?single"><time class="message_video_duration">1:02:03</time></a>
            <a class="tgme_widget_message_photo_wrap grouped_media_wrap" href="https://t.me/chan/12?single" style="background-image:url(&quot;https://cdn/c.jpg&quot;)"></a>
            </div></div>
            <div class="tgme_widget_message_text">Album caption</div>
            """, id: 12)
        let post = try #require(album.posts.first)
        #expect(post.media.map(\.kind) == ["photo", "video", "photo"])
        #expect(post.media.map(\.summary) == ["https://cdn/a.jpg", nil, "https://cdn/c.jpg"])
        #expect(post.media[1].durationSeconds == 3723)
        #expect(post.albumID == "10")
        #expect(post.albumMessageIDs == [10, 11])
        #expect(album.seenMessageIDs == [10, 11, 12])
        #expect(album.missingIDs(after: 9).isEmpty)
        #expect(post.content.text == "Album caption")
    }

    @Test func unsupportedPostAndDocument() throws {
        let unsupported = try page(message: """
            <div class="message_media_not_supported_wrap"><div class="message_media_not_supported">
            <div class="message_media_not_supported_label">Please open Telegram to view this post</div>
            <a href="https://t.me/chan/7" class="message_media_view_in_telegram">VIEW IN TELEGRAM</a></div></div>
            """)
        let post = try #require(unsupported.posts.first)
        #expect(post.unsupported)
        #expect(post.content.text.isEmpty && post.media.isEmpty)
        #expect(unsupported.seenMessageIDs == [7])

        let document = try page(message: """
            <a class="tgme_widget_message_document_wrap" href="https://t.me/chan/7"><div class="tgme_widget_message_document">
            <div class="tgme_widget_message_document_title accent_color" dir="auto">report.pdf</div>
            <div class="tgme_widget_message_document_extra" dir="auto">1.2 MB</div></div></a>
            """)
        let doc = try #require(document.posts.first)
        #expect(doc.media == [MediaDescriptor(kind: "document", fileName: "report.pdf", summary: "1.2 MB")])
        #expect(!doc.unsupported)
    }

    @Test func serviceMessagesAreSkippedButSeen() throws {
        let service = try page(message: "<div class=\"tgme_widget_message_text\">Channel photo updated</div>", id: 4, classes: "service_message")
        #expect(service.posts.isEmpty)
        #expect(service.serviceMessageIDs == [4])
        #expect(service.missingIDs(after: 3).isEmpty)
    }

    // MARK: Hostile input

    @Test func nonPreviewInputThrows() {
        for input in ["", "random ✂︎ bytes \u{0}\u{1}", "<html><body><h1>Telegram</h1></body></html>", "<", "<<<>>>", "</", "<!--"] {
            #expect(throws: WebPreviewPage.ParseError.self, "input \(input.debugDescription)") { try WebPreviewPage.parse(html: input, channel: "durov") }
        }
        var rng = SplitMix64(seed: 7)
        let bytes = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        #expect(throws: WebPreviewPage.ParseError.self) { try WebPreviewPage.parse(html: String(decoding: bytes, as: UTF8.self), channel: "durov") }
    }

    @Test func forgivingTokenizerOnBrokenMarkup() throws {
        // "<" in text, unclosed <b> and <i> closed at the end of the text div, a stray end tag, ">" inside a quoted attribute.
        let content = try text("a < b <3 <b>bold <i data-x='1>2'>both</span>")
        #expect(content.text == "a < b <3 bold both")
        #expect(covered(content) == ["bold both", "both"])
        // An unterminated attribute or tag ends the document without a crash; the post has no date then and is skipped.
        for broken in [
            "<section class=\"tgme_channel_history\"><div class=\"tgme_widget_message\" data-post=\"c/1\"><div class=\"tgme_widget_message_text\">x<a href=\"https://e",
            "<section class=\"tgme_channel_history\"><div class=\"tgme_widget_message\" data-post=\"c/1\"><b",
            "<section class=\"tgme_channel_history\"><div class=\"tgme_widget_message\" data-post=\"c/9223372036854775807\"><time datetime=\"2026-01-02T03:04:05Z\"></time>",
        ] {
            let page = try WebPreviewPage.parse(html: broken, channel: "c")
            #expect(page.posts.count == (broken.contains("datetime") ? 1 : 0))
            #expect(page.warnings.count == (broken.contains("datetime") ? 0 : 1))
            #expect(page.missingIDs(after: 1, limit: 50).count <= 50)
        }
    }

    @Test func deepNestingDoesNotExhaustTheStack() throws {
        let depth = 50_000
        let content = try text(String(repeating: "<b>", count: depth) + "deep" + String(repeating: "</b>", count: depth))
        #expect(content.text == "deep")
        #expect(content.entitiesAreValid)
        #expect(!content.entities.isEmpty && content.entities.count <= HTMLTree.maxDepth)
    }

    @Test func truncatedRealPageKeepsThePostsBeforeTheCut() throws {
        let html = try String(contentsOf: Paths.fixture("tme_s_html/durov_tme_s_channel_feed_en.html"), encoding: .utf8)
        let utf8 = Array(html.utf8)
        // Cut 2000 bytes after post 529 starts, before its footer and date.
        let cut = try #require(html.range(of: "data-post=\"durov/529\"")).upperBound
        let prefix = String(decoding: utf8[..<(html.utf8.distance(from: html.startIndex, to: cut) + 2000)], as: UTF8.self)
        let page = try WebPreviewPage.parse(html: prefix, channel: "durov")
        #expect(page.posts.map(\.messageID) == Array(519...528))
        #expect(page.warnings.count == 1 && page.warnings[0].hasPrefix("post 529"))
        // 529 is not counted as seen, so nothing after 528 looks covered.
        #expect(page.seenMessageIDs.last == 528)
        // Cuts at many other points: never a crash, and whatever is returned is well-formed.
        for fraction in stride(from: 0.05, to: 1.0, by: 0.05) {
            let piece = String(decoding: utf8.prefix(Int(Double(utf8.count) * fraction)), as: UTF8.self)
            if let partial = try? WebPreviewPage.parse(html: piece, channel: "durov") {
                #expect(partial.posts.allSatisfy { $0.content.entitiesAreValid && (519...539).contains($0.messageID) })
            }
        }
    }

    @Test func mutatedRealPageNeverCrashes() throws {
        let original = try Array(String(contentsOf: Paths.fixture("tme_s_html/prstnk_eprst_tme_s_ru_small_channel.html"), encoding: .utf8).utf8)
        var rng = SplitMix64(seed: 99)
        let alphabet = Array("<>/\"'=&;# abc".utf8)
        var parsed = 0
        for _ in 0..<150 {
            var bytes = original
            for _ in 0..<Int(rng.next() % 8 + 1) {
                let index = Int(rng.next() % UInt64(bytes.count))
                bytes[index] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            }
            guard let page = try? WebPreviewPage.parse(html: String(decoding: bytes, as: UTF8.self), channel: "prstnk_eprst") else { continue }
            parsed += 1
            #expect(page.posts.allSatisfy { $0.content.entitiesAreValid })
        }
        #expect(parsed > 0)
    }
}
