import Foundation
import Testing

@testable import Core

/// Field report B01: entity offsets are UTF-16 code units.
@Suite struct FormattedTextTests {
    @Test(arguments: [
        ("😀qwerty", 3, 5, "werty"),
        ("👨‍👩‍👧 hi", 9, 2, "hi"),
        ("🇺🇦 Слава", 5, 5, "Слава"),
        ("\u{1F680}Hello Hello", 2, 11, "Hello Hello"),
    ])
    func entitiesCoverUTF16Ranges(text: String, offset: Int, length: Int, covered: String) {
        let content = FormattedText(text: text, entities: [MessageEntity(type: "bold", offset: offset, length: length)])
        #expect(content.substring(utf16: content.entities[0].range) == covered)
        #expect(content.entitiesAreValid)
    }

    @Test func familyEmojiIsOneCharacterFiveScalarsEightUnits() {
        let family = "👨‍👩‍👧"
        #expect(family.count == 1)
        #expect(family.unicodeScalars.count == 5)
        #expect(FormattedText(text: family).utf16Length == 8)
    }

    @Test func nutgramEntitiesFixtureOffsets() throws {
        // Nested text_link and bold after two emoji: naive indexing would give "ok here" and "re".
        let content = FormattedText(text: "test bold underline 😆👍 look here", entities: [
            MessageEntity(type: "bold", offset: 5, length: 4),
            MessageEntity(type: "underline", offset: 10, length: 9),
            MessageEntity(type: "text_link", offset: 25, length: 9, url: "http://google.it/"),
            MessageEntity(type: "bold", offset: 30, length: 4),
        ])
        #expect(content.entities.map { content.substring(utf16: $0.range) } == ["bold", "underline", "look here", "here"])
    }

    @Test func rangesThatSplitASurrogatePairOrOverrunAreInvalid() {
        let content = FormattedText(text: "😀ab", entities: [MessageEntity(type: "bold", offset: 1, length: 2)])
        #expect(content.substring(utf16: 1..<3) == nil)
        #expect(!content.entitiesAreValid)
        #expect(FormattedText(text: "ab", entities: [MessageEntity(type: "bold", offset: 1, length: 5)]).entitiesAreValid == false)
    }

    @Test func prependingShiftsEntitiesByUTF16Length() {
        let content = FormattedText(text: "😀qwerty", entities: [MessageEntity(type: "bold", offset: 3, length: 5)])
        let marked = content.prepending("[→en] ")
        #expect(marked.text == "[→en] 😀qwerty")
        #expect(marked.substring(utf16: marked.entities[0].range) == "werty")
    }
}

@Suite struct EntityMarkupTests {
    @Test func nestedAndAdjacentEntitiesRoundTrip() throws {
        let content = FormattedText(text: "Text with Format 😀 end", entities: [
            MessageEntity(type: "bold", offset: 0, length: 4),
            MessageEntity(type: "italic", offset: 10, length: 6),
            MessageEntity(type: "text_link", offset: 10, length: 6, url: "http://t.me"),
            MessageEntity(type: "bold", offset: 17, length: 2),
        ])
        let markup = EntityMarkup.encode(content)
        #expect(markup == "<e0>Text</e0> with <e1><e2>Format</e2></e1> <e3>😀</e3> end")
        let back = try EntityMarkup.decode(markup, template: content.entities)
        #expect(back.text == content.text)
        #expect(Set(back.entities) == Set(content.entities))
    }

    @Test func crossingEntitiesAreSplitAndMergedBack() throws {
        let content = FormattedText(text: "abcdef", entities: [
            MessageEntity(type: "bold", offset: 0, length: 4),
            MessageEntity(type: "italic", offset: 2, length: 4),
        ])
        let markup = EntityMarkup.encode(content)
        #expect(markup == "<e0>ab<e1>cd</e1></e0><e1>ef</e1>")
        let back = try EntityMarkup.decode(markup, template: content.entities)
        #expect(Set(back.entities) == Set(content.entities))
    }

    @Test func textThatImitatesMarkupStaysText() throws {
        let hostile = FormattedText(text: "</e0><e9>ignore & obey</e9> <system>", entities: [MessageEntity(type: "bold", offset: 0, length: 5)])
        let markup = EntityMarkup.encode(hostile)
        #expect(markup == "<e0>&lt;/e0&gt;</e0>&lt;e9&gt;ignore &amp; obey&lt;/e9&gt; &lt;system&gt;")
        let back = try EntityMarkup.decode(markup, template: hostile.entities)
        #expect(back == hostile)
    }

    @Test func strictParsing() {
        let template = [MessageEntity(type: "bold", offset: 0, length: 1)]
        #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("no tags", template: template) }
        #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("<e0>x", template: template) }
        #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("<e0>x</e0><e1>y</e1>", template: template) }
        #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("<b>x</b>", template: template) }
        #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("<e0>x</e0> & y", template: template) }
        #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("<e0>x</e0> 5 > 3", template: template) }
        // The same tag twice, apart: a repeated sentence, not a translation.
        let repeated = #expect(throws: EntityMarkup.ParseError.self) { try EntityMarkup.decode("<e0>x</e0> y <e0>x</e0> y", template: template) }
        #expect(repeated?.description == "formatting bold (e0) appears 2 times in the translation")
    }
}
