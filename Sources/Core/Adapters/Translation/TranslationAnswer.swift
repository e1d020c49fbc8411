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
            if inner.hasPrefix("\n") { inner = inner.dropFirst() }
            if inner.hasSuffix("\n") { inner = inner.dropLast() }
            blocks[id] = String(inner)
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    /// Decodes one post's markup and checks it against its source; the result is safe to publish.
    public static func validate(_ markup: String, post: TranslationPrompt.Post, rules: TranslationRules) throws(Rejection) -> (FormattedText, glossaryHits: Int) {
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

        // Protected entities that could not travel as placeholders must still come back unchanged.
        for (index, entity) in source.entities.enumerated() where rules.protectedKinds.contains(entity.type) && post.placeholders[index] == nil {
            let original = source.substring(utf16: entity.range)
            let kept = content.entities.contains { $0.type == entity.type && content.substring(utf16: $0.range) == original }
            guard kept else { throw Rejection("\(entity.type) \(original ?? "") was changed by the translation") }
        }
        if rules.hashtags == .translate {
            for entity in content.entities where entity.type == "hashtag" {
                let tag = content.substring(utf16: entity.range) ?? ""
                guard tag.hasPrefix("#"), tag.count > 1, !tag.dropFirst().contains(where: { $0.isWhitespace || $0 == "#" }) else {
                    throw Rejection("hashtag \"\(tag)\" lost its # or has spaces; a hashtag is # and one word")
                }
            }
        }
        // Links keep their order: a swapped pair sends readers to the wrong chapter (field report B15).
        func linkOrder(_ text: FormattedText) -> [String] {
            text.entities.filter { $0.url != nil }.sorted { $0.offset < $1.offset }.map { $0.url! }
        }
        guard linkOrder(content) == linkOrder(source) else { throw Rejection("links come back in a different order than in the post") }
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
        let missing = post.terms.filter { content.text.range(of: $0.target, options: .caseInsensitive) == nil }
        if let term = missing.first {
            throw Rejection("glossary term \"\(term.source)\" must be rendered \"\(term.target)\"")
        }
        return (content, post.terms.count)
    }

    /// Lines a model adds around a translation ("Here is the translation:", "Note: …"), in the languages
    /// posts are most often translated into; a source line that starts the same way is not chatter.
    static let chatterOpenings = [
        "here is", "here's", "translation:", "translated text:", "sure,", "sure!", "certainly", "i cannot", "i can't", "as an ai",
        "hier ist", "übersetzung:", "voici", "traduction :", "traduction:", "aquí está", "traducción:",
        "вот перевод", "перевод:", "ось переклад", "переклад:",
    ]
    static let chatterClosings = [
        "note:", "(note:", "notes:", "translator's note", "hinweis:", "anmerkung:", "remarque :", "note :", "nota:",
        "примечание:", "примітка:",
    ]

    static func chatter(in translation: String, source: String) -> String? {
        let lines = translation.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        let sourceLines = source.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func inSource(_ marker: String) -> Bool { sourceLines.contains { $0.hasPrefix(marker) } }
        if let first = lines.first, let marker = chatterOpenings.first(where: { first.hasPrefix($0) }), !inSource(marker) {
            return excerpt(Substring(first))
        }
        if lines.count > 1, let last = lines.last, let marker = chatterClosings.first(where: { last.hasPrefix($0) }), !inSource(marker) {
            return excerpt(Substring(last))
        }
        return nil
    }

    static func excerpt(_ text: Substring) -> String {
        let line = text.prefix { !$0.isNewline }
        return line.count > 60 ? String(line.prefix(60)) + "…" : String(line)
    }
}
