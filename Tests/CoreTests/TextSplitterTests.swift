import Foundation
import Testing
import TestSupport

@testable import Core

/// Cutting formatted text at Telegram's limits, counted in UTF-16 code units; field reports B01, B05, B07–B10.
@Suite struct TextSplitterTests {
    /// B01: the three repros; offsets and lengths are UTF-16 code units.
    @Test(arguments: [
        ("😀qwerty", MessageEntity(type: "bold", offset: 3, length: 5), "werty"),
        ("👨‍👩‍👧 hi", MessageEntity(type: "bold", offset: 9, length: 2), "hi"),
        ("🇺🇦 Слава", MessageEntity(type: "italic", offset: 5, length: 5), "Слава"),
    ])
    func entitiesCoverWhatTelegramMeans(text: String, entity: MessageEntity, covered: String) throws {
        let formatted = FormattedText(text: text, entities: [entity])
        #expect(formatted.substring(utf16: entity.range) == covered)
        // Cut into pieces a few units long, the entity still covers exactly its text, in one piece or several.
        let chunks = TextSplitter.split(formatted, limit: 6)
        let pieces = chunks.flatMap { chunk in chunk.entities.map { chunk.substring(utf16: $0.range)! } }
        #expect(pieces.joined() == covered)
    }

    @Test func graphemesScalarsAndUTF16UnitsDiffer() {
        // The counts the field report gives: Swift's `count` is not Telegram's unit.
        #expect("😀qwerty".count == 7 && "😀qwerty".utf16.count == 8)
        #expect("👨‍👩‍👧".count == 1 && "👨‍👩‍👧".unicodeScalars.count == 5 && "👨‍👩‍👧".utf16.count == 8)
    }

    @Test func textWithinTheLimitIsOneChunkExactlyAsItIs() {
        // B09: 4,000 units with 150 dots stay 4,000: no escaping inflates them, since entities are explicit.
        let text = String(repeating: "Рост.", count: 150) + String(repeating: "а", count: 4000 - 750)
        #expect(text.utf16.count == 4000)
        #expect(TextSplitter.split(FormattedText(text: text)) == [FormattedText(text: text)])
        // B05: MarkdownV2's reserved characters are just text.
        let markdown = FormattedText(text: "Курс 3.5% - рост (прогноз)!")
        #expect(TextSplitter.split(markdown) == [markdown])
    }

    @Test func aGraphemeLongerThanTheLimitIsCutBetweenScalarsNeverInsideASurrogatePair() {
        // An emoji carrying 2,000 combining marks is one grapheme of 2,002 units.
        let text = "😀" + String(repeating: "\u{301}", count: 2000) + " конец"
        let chunks = TextSplitter.split(FormattedText(text: text), limit: 1024)
        #expect(chunks.allSatisfy { $0.utf16Length <= 1024 && !$0.text.unicodeScalars.contains("\u{FFFD}") })
        #expect(chunks.map(\.text).joined().replacingOccurrences(of: " ", with: "") == text.replacingOccurrences(of: " ", with: ""))
    }

    @Test func noChunkCarriesMoreThanAHundredEntities() {
        let words = (0..<250).map { "слово\($0)" }
        let text = words.joined(separator: " ")
        var entities: [MessageEntity] = []
        var offset = 0
        for word in words {
            entities.append(MessageEntity(type: "bold", offset: offset, length: word.utf16.count))
            offset += word.utf16.count + 1
        }
        let chunks = TextSplitter.split(FormattedText(text: text, entities: entities))
        #expect(chunks.count == 3)
        #expect(chunks.allSatisfy { $0.entities.count <= 100 && $0.entitiesAreValid })
        #expect(chunks.map(\.entities.count).reduce(0, +) == 250)
        #expect(chunks.map(\.text).joined(separator: " ") == text)
    }

    @Test func captionChunkIsCutAtItsOwnLimitAndTheRestAtTheMessageLimit() {
        // B10 (b): a 1,700-unit Premium caption becomes a 1,024-unit caption and one message.
        let text = String(repeating: "Подпись премиум. ", count: 100)
        let chunks = TextSplitter.split(FormattedText(text: text), firstLimit: 1024)
        #expect(chunks.count == 2 && chunks[0].utf16Length <= 1024 && chunks[1].utf16Length <= 4096)
        #expect(chunks[0].text.hasSuffix("премиум."))
    }

    /// Every post of the real Chinese export, cut at small limits: nothing is lost, no limit is passed, no
    /// entity is invalid, and every entity piece lies inside the source entity it came from.
    @Test func chineseExportSurvivesSplittingAtSmallLimits() throws {
        let batch = try TelegramDesktopExport.parse(Data(contentsOf: Paths.chineseExport))
        var split = 0
        for post in batch.posts where post.content.hasVisibleText {
            let chunks = TextSplitter.split(post.content, firstLimit: 120, limit: 300, maxEntities: 20)
            if chunks.count > 1 { split += 1 }
            var nonWhitespace = ""
            for (index, chunk) in chunks.enumerated() {
                #expect(chunk.utf16Length <= (index == 0 ? 120 : 300))
                #expect(chunk.entities.count <= 20 && chunk.entitiesAreValid)
                nonWhitespace += chunk.text.unicodeScalars.filter { !$0.properties.isWhitespace }.map(String.init).joined()
            }
            let original = post.content.text.unicodeScalars.filter { !$0.properties.isWhitespace }.map(String.init).joined()
            #expect(nonWhitespace == original, "message \(post.messageID)")
            let sourceTexts = post.content.entities.compactMap { post.content.substring(utf16: $0.range) }
            for chunk in chunks {
                for entity in chunk.entities {
                    let piece = chunk.substring(utf16: entity.range)!
                    #expect(sourceTexts.contains { $0.contains(piece) }, "message \(post.messageID) entity \(entity.type)")
                }
            }
        }
        #expect(split > 300)
    }
}
