import Foundation

/// Reads a model's answer strictly: only `<translation id="N">…</translation>` blocks, each post once, and
/// every translation checked against its source before it may be published.
public enum TranslationAnswer {
    /// Why an answer, or one post of it, was not accepted.
    public struct Rejection: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The inner markup of each block by local id.
    ///
    /// - Throws: ``Rejection`` for text outside the blocks (a preamble, a trailing note), an unknown or
    ///   repeated id, or a block that never closes; these make the whole answer untrustworthy.
    public static func blocks(_ answer: String, expecting ids: Set<Int>) throws(Rejection) -> [Int: String] {
        var blocks: [Int: String] = [:]
        var rest = Substring(answer)
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.isEmpty { break }
            guard rest.hasPrefix("<translation id=\""), let quote = rest.dropFirst(17).firstIndex(of: "\""),
                let id = Int(rest[rest.index(rest.startIndex, offsetBy: 17)..<quote]),
                rest[quote...].hasPrefix("\">")
            else {
                throw Rejection("answer has text outside the <translation> blocks: \"\(excerpt(rest))\"")
            }
            guard ids.contains(id) else { throw Rejection("answer has a block for post \(id), which was not asked for") }
            guard blocks[id] == nil else { throw Rejection("answer has two blocks for post \(id)") }
            let bodyStart = rest.index(quote, offsetBy: 2)
            guard let close = rest[bodyStart...].range(of: "</translation>") else {
                throw Rejection("the block for post \(id) never closes")
            }
            var inner = rest[bodyStart..<close.lowerBound]
            if inner.first?.isNewline == true { inner = inner.dropFirst() }  // "\n", or "\r\n" (one Character)
            if inner.last?.isNewline == true { inner = inner.dropLast() }
            blocks[id] = String(inner)
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    /// Decodes one post's markup and checks it against its source; the result is safe to publish.
    public static func validate(_ markup: String, post: TranslationPrompt.Post, rules: TranslationRules) throws(Rejection) -> FormattedText {
        let source = post.item.content
        let content: FormattedText
        let ranges: [Range<Int>]
        do {
            (content, ranges) = try EntityMarkup.decodeIndexed(markup, template: source.entities, placeholders: post.placeholders)
        } catch {
            throw Rejection("translation markup is broken: \(error.description)")
        }
        let trimmed = content.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Rejection("translation is empty") }

        // Protected entities that could not travel as placeholders must still come back unchanged, each in its own place.
        let protectedKinds = rules.protectedKinds
        for (index, entity) in source.entities.enumerated() where protectedKinds.contains(entity.type) && post.placeholders[index] == nil {
            let original = source.substring(utf16: entity.range)
            guard content.substring(utf16: ranges[index]) == original else { throw Rejection("\(entity.type) \(original ?? "") was changed by the translation") }
        }
        if rules.hashtags == .translate {
            for entity in content.entities where entity.type == "hashtag" {
                let tag = content.substring(utf16: entity.range) ?? ""
                guard tag.hasPrefix("#"), tag.count > 1, !tag.dropFirst().contains(where: { $0.isWhitespace || $0 == "#" }) else {
                    throw Rejection("hashtag \"\(tag)\" lost its # or has spaces; a hashtag is # and one word")
                }
            }
        }
        // Links keep their order, text links and plain URLs alike: a swapped pair sends readers to the wrong
        // chapter (field report B15). Compared by target, so two links to the same place may trade places.
        let links = source.entities.indices.filter { Self.linkKinds.contains(source.entities[$0].type) }
        func target(_ index: Int, in text: FormattedText, at range: Range<Int>) -> String {
            source.entities[index].url ?? source.entities[index].userID.map(String.init) ?? text.substring(utf16: range) ?? ""
        }
        let before = links.sorted { source.entities[$0].offset < source.entities[$1].offset }.map { target($0, in: source, at: source.entities[$0].range) }
        let after = links.sorted { ranges[$0].lowerBound < ranges[$1].lowerBound }.map { target($0, in: content, at: ranges[$0]) }
        guard before == after else { throw Rejection("links come back in a different order than in the post") }
        for (index, entity) in source.entities.enumerated() {
            let before = source.substring(utf16: entity.range) ?? ""
            let after = content.substring(utf16: ranges[index]) ?? ""
            if after.contains("\n\n") && !before.contains("\n\n") {
                throw Rejection("formatting \(entity.type) (e\(index)) now spans a paragraph break it did not span in the post")
            }
        }
        if source.utf16Length >= rules.ratioMinimumLength {
            let ratio = Double(content.utf16Length) / Double(source.utf16Length)
            guard rules.lengthRatio.contains(ratio) else {
                throw Rejection(String(format: "translation is %.2f× the length of the post, outside %.2f–%.2f", ratio, rules.lengthRatio.lowerBound, rules.lengthRatio.upperBound))
            }
        }
        if let chatter = chatter(in: content.text, source: source.text) {
            throw Rejection("translation carries model commentary (\"\(chatter)\")")
        }
        if let term = post.terms.first(where: { !$0.isRendered(in: content.text) }) {
            throw Rejection("glossary term \"\(term.source)\" must be rendered \"\(term.targets.joined(separator: "\" or \""))\"")
        }
        return content
    }

    static let linkKinds: Set<String> = ["text_link", "url", "text_mention", "mention", "email"]

    /// Lines a model adds around a translation ("Here is the translation:", "Note: …"), in the languages
    /// posts are most often translated into. Only a line the source has no counterpart for counts: a
    /// translation with more lines than its post whose extra first or last line opens like this.
    static let chatterOpenings = [
        "here is", "here's", "translation:", "translated text:", "sure,", "sure!", "certainly", "as an ai", "i cannot", "i can't",
        "hier ist", "übersetzung:", "voici", "traduction :", "traduction:", "aquí está", "traducción:",
        "вот перевод", "перевод:", "ось переклад", "переклад:",
    ]
    static let chatterClosings = [
        "note:", "(note:", "notes:", "translator's note", "hinweis:", "anmerkung:", "remarque :", "note :", "nota:",
        "примечание:", "примітка:",
    ]

    static func chatter(in translation: String, source: String) -> String? {
        func lines(_ text: String) -> [String] {
            text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        }
        let out = lines(translation)
        guard out.count > lines(source).count else { return nil }
        if let first = out.first, chatterOpenings.contains(where: { first.hasPrefix($0) }) { return excerpt(Substring(first)) }
        if let last = out.last, chatterClosings.contains(where: { last.hasPrefix($0) }) { return excerpt(Substring(last)) }
        return nil
    }

    static func excerpt(_ text: Substring) -> String {
        let line = text.prefix { !$0.isNewline }
        return line.count > 60 ? String(line.prefix(60)) + "…" : String(line)
    }
}
