/// The small tag language in which formatted text travels to and from a language model.
///
/// Entity `i` of the source becomes `<ei>…</ei>` around the text it covers; `&`, `<` and `>` in the text are
/// escaped as `&amp;`, `&lt;` and `&gt;`, so text that imitates our markup stays text. Entities that cross
/// each other are cut into properly nested pieces that share an index and are merged again on parsing.
/// Parsing is strict: an unknown or unbalanced tag, a missing entity, or one that comes back as two separate
/// spans is an error, never guessed.
///
/// Protected entities (links, mentions, code…) travel as placeholders `<ei/>`: the model never sees their
/// text, so it cannot change a letter of it, and decoding puts the original back byte for byte.
public enum EntityMarkup {
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// The entities of `content` with a kind in `kinds` that can travel as placeholders: those with no other
    /// entity starting or ending inside them (a bold word inside a URL keeps the URL a tag pair, and the
    /// URL's text is then checked instead).
    public static func placeholderCandidates(_ content: FormattedText, kinds: Set<String>) -> Set<Int> {
        var chosen = Set<Int>()
        var ranges = Set<Range<Int>>()
        for (index, entity) in content.entities.enumerated() where kinds.contains(entity.type) && entity.length > 0 {
            let inner = content.entities.indices.contains { other in
                guard other != index else { return false }
                let e = content.entities[other]
                return (entity.offset + 1..<entity.offset + entity.length).contains(e.offset)
                    || (entity.offset + 1..<entity.offset + entity.length).contains(e.offset + e.length)
            }
            if !inner, ranges.insert(entity.range).inserted { chosen.insert(index) }
        }
        return chosen
    }

    /// Serialises `content` into markup; the entities in `placeholders` (see ``placeholderCandidates(_:kinds:)``)
    /// become `<ei/>` in place of their text.
    public static func encode(_ content: FormattedText, placeholders: Set<Int> = []) -> String {
        let units = Array(content.text.utf16)
        // Cut points: every entity boundary.
        var cuts = Set<Int>([0, units.count])
        for e in content.entities { cuts.insert(e.offset); cuts.insert(e.offset + e.length) }
        let points = cuts.sorted()
        var out = ""
        var open: [Int] = []  // stack of entity indices currently open
        for (start, end) in zip(points, points.dropFirst()) {
            var active = content.entities.indices.filter { content.entities[$0].offset <= start && content.entities[$0].offset + content.entities[$0].length >= end }
            let placeholder = active.first { placeholders.contains($0) }
            active.removeAll { $0 == placeholder }
            // Close what is not active any more, or what must close to reopen in nesting order.
            let desired = active.sorted { lhs, rhs in
                let a = content.entities[lhs], b = content.entities[rhs]
                return a.offset != b.offset ? a.offset < b.offset : (a.length != b.length ? a.length > b.length : lhs < rhs)
            }
            var keep = 0
            while keep < open.count, keep < desired.count, open[keep] == desired[keep] { keep += 1 }
            while open.count > keep { out += "</e\(open.removeLast())>" }
            for index in desired[keep...] {
                out += "<e\(index)>"
                open.append(index)
            }
            if let placeholder {
                out += "<e\(placeholder)/>"
            } else {
                out += escape(String(decoding: units[start..<end], as: UTF16.self))
            }
        }
        while let index = open.popLast() { out += "</e\(index)>" }
        return out
    }

    /// Parses markup back into text plus entities, taking each entity's attributes from `template` and the text
    /// of each placeholder from `placeholders` (entity index → original text).
    ///
    /// - Throws: ``ParseError`` when a tag is unknown or unbalanced, when an entity of `template` is missing,
    ///   or when a placeholder is missing, repeated or written as a tag pair.
    public static func decode(_ markup: String, template: [MessageEntity], placeholders: [Int: String] = [:]) throws(ParseError) -> FormattedText {
        try decodeIndexed(markup, template: template, placeholders: placeholders).content
    }

    /// ``decode(_:template:placeholders:)``, also giving where each template entity landed (by template index).
    public static func decodeIndexed(_ markup: String, template: [MessageEntity], placeholders: [Int: String] = [:]) throws(ParseError) -> (content: FormattedText, ranges: [Range<Int>]) {
        var placeholderUses: [Int: Int] = [:]
        var text = ""
        var utf16Length = 0
        var stack: [(index: Int, start: Int)] = []
        var pieces: [Int: [Range<Int>]] = [:]
        var scalars = Substring(markup).unicodeScalars[...]
        while let scalar = scalars.first {
            if scalar == "<" {
                guard let close = scalars.firstIndex(of: ">") else { throw ParseError(description: "unterminated tag") }
                let tag = String(String.UnicodeScalarView(scalars[scalars.index(after: scalars.startIndex)..<close]))
                scalars = scalars[scalars.index(after: close)...]
                let closing = tag.hasPrefix("/")
                let selfClosing = !closing && tag.hasSuffix("/")
                let name = closing ? tag.dropFirst() : (selfClosing ? tag.dropLast() : Substring(tag))
                guard name.hasPrefix("e"), name.dropFirst().allSatisfy(\.isASCII), let index = Int(name.dropFirst()), template.indices.contains(index) else {
                    throw ParseError(description: "unknown tag <\(tag)>")
                }
                if selfClosing {
                    guard let original = placeholders[index] else {
                        throw ParseError(description: "<e\(index)/> stands for nothing; formatting \(template[index].type) must wrap words")
                    }
                    placeholderUses[index, default: 0] += 1
                    text += original
                    pieces[index, default: []].append(utf16Length..<utf16Length + original.utf16.count)
                    utf16Length += original.utf16.count
                } else if placeholders[index] != nil {
                    throw ParseError(description: "protected \(template[index].type) <e\(index)/> was rewritten as text; it must stay <e\(index)/>")
                } else if closing {
                    guard let top = stack.popLast(), top.index == index else { throw ParseError(description: "tag </e\(index)> closes nothing open") }
                    if utf16Length > top.start { pieces[index, default: []].append(top.start..<utf16Length) }
                } else {
                    stack.append((index, utf16Length))
                }
            } else if scalar == "&" {
                guard let semi = scalars.prefix(6).firstIndex(of: ";") else { throw ParseError(description: "bare & in markup") }
                let name = String(String.UnicodeScalarView(scalars[scalars.index(after: scalars.startIndex)..<semi]))
                let replacement: String
                switch name {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                default: throw ParseError(description: "unknown escape &\(name);")
                }
                text += replacement
                utf16Length += 1
                scalars = scalars[scalars.index(after: semi)...]
            } else if scalar == ">" {
                throw ParseError(description: "bare > in markup")
            } else {
                text.unicodeScalars.append(scalar)
                utf16Length += scalar.utf16.count
                scalars = scalars.dropFirst()
            }
        }
        guard stack.isEmpty else { throw ParseError(description: "tag <e\(stack.last!.index)> is never closed") }
        for index in placeholders.keys.sorted() where placeholderUses[index] != 1 {
            let uses = placeholderUses[index] ?? 0
            throw ParseError(description: "protected \(template[index].type) <e\(index)/> appears \(uses) times in the translation; it must appear once")
        }
        var entities: [MessageEntity] = []
        for (index, entity) in template.enumerated() {
            guard let ranges = pieces[index]?.sorted(by: { $0.lowerBound < $1.lowerBound }), !ranges.isEmpty else {
                throw ParseError(description: "formatting \(entity.type) (e\(index)) is missing from the translation")
            }
            // Pieces of one crossing entity that touch are one entity again.
            var merged: [Range<Int>] = []
            for r in ranges {
                if let last = merged.last, last.upperBound >= r.lowerBound {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    merged.append(r)
                }
            }
            // A source entity is one span; two separate spans mean the model repeated the tag (and likely
            // the words), which is never a faithful translation.
            guard merged.count == 1, let range = merged.first else {
                throw ParseError(description: "formatting \(entity.type) (e\(index)) appears \(merged.count) times in the translation")
            }
            var copy = entity
            copy.offset = range.lowerBound
            copy.length = range.count
            entities.append(copy)
        }
        let ranges = entities.map(\.range)
        entities.sort { $0.offset != $1.offset ? $0.offset < $1.offset : $0.length > $1.length }
        return (FormattedText(text: text, entities: entities), ranges)
    }

    static func escape(_ text: String) -> String { text.escapingMarkup(quotes: false) }
}

extension String {
    /// `&`, `<`, `>` (and, for HTML attributes, `"` and `'`) as character references.
    func escapingMarkup(quotes: Bool) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for c in unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where quotes: out += "&quot;"
            case "'" where quotes: out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
