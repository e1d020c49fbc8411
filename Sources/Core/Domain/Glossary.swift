import Foundation

/// An operator's term pairs for one language pair: the translator is told to use them and its answer is
/// checked for them.
public struct Glossary: Sendable, Hashable {
    public struct Term: Sendable, Hashable {
        public var source: String
        /// The rendering; for a target language with cases, accepted forms separated by `|`
        /// (`Київ|Києва|Києві`), the first being the one the model is told.
        public var target: String
        /// Optional context for the model ("air-raid alert, not the feeling").
        public var note: String
        public init(source: String, target: String, note: String = "") {
            self.source = source
            self.target = target
            self.note = note
        }

        public var targets: [String] { target.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

        /// Whether `text` holds one of the accepted forms as a whole word.
        public func isRendered(in text: String) -> Bool { targets.contains { Glossary.containsWord($0, in: text) } }
    }

    public var terms: [Term]
    public init(_ terms: [Term] = []) { self.terms = terms }
    public var isEmpty: Bool { terms.isEmpty }

    /// The terms whose source form occurs in `text` as a whole word, in any letter case ("Тривога!" opens a
    /// post as often as "тривога" ends one; "Рада" is not in "порада").
    public func terms(occurringIn text: String) -> [Term] {
        terms.filter { Self.containsWord($0.source, in: text) }
    }

    /// `word` in `text`, case-insensitively, with no letter or digit right before or after it.
    static func containsWord(_ word: String, in text: String) -> Bool {
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: word, options: [.caseInsensitive], range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            let wordChar: (Character?) -> Bool = { c in c.map { $0.isLetter || $0.isNumber } ?? false }
            if !wordChar(before) && !wordChar(after) { return true }
            guard found.lowerBound < text.endIndex else { return false }
            searchRange = text.index(after: found.lowerBound)..<text.endIndex
        }
        return false
    }

    // MARK: - CSV

    public struct CSVError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Reads `source,target[,note]` rows (RFC 4180 quoting; a first row naming the columns is skipped).
    public static func parseCSV(_ text: String) throws(CSVError) -> Glossary {
        let rows = try CSV.parse(text)
        var terms: [Term] = []
        var seen = Set<String>()
        for (index, row) in rows.enumerated() {
            let line = index + 1
            let fields = row.map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.allSatisfy(\.isEmpty) { continue }
            if index == 0, fields.first?.lowercased() == "source" { continue }
            guard fields.count == 2 || fields.count == 3 else {
                throw CSVError(description: "row \(line) has \(fields.count) field\(fields.count == 1 ? "" : "s"); each row is source,target or source,target,note")
            }
            guard !fields[0].isEmpty, !fields[1].isEmpty else {
                throw CSVError(description: "row \(line) has an empty term; both source and target are required")
            }
            guard seen.insert(fields[0].lowercased()).inserted else {
                throw CSVError(description: "row \(line) repeats the source term \"\(fields[0])\"; keep one rendering per term")
            }
            terms.append(Term(source: fields[0], target: fields[1], note: fields.count == 3 ? fields[2] : ""))
        }
        return Glossary(terms)
    }

    /// Writes the terms in the form ``parseCSV(_:)`` reads, with a header row.
    public func csv() -> String {
        var out = "source,target,note\r\n"
        for term in terms {
            out += [term.source, term.target, term.note].map(CSV.quote).joined(separator: ",") + "\r\n"
        }
        return out
    }
}

/// RFC 4180: fields separated by commas, quoted with `"` when they hold a comma, quote or line break.
enum CSV {
    static func parse(_ text: String) throws(Glossary.CSVError) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var afterQuote = false
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }  // Excel's byte-order mark
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        i += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "," {
                row.append(field)
                field = ""
                afterQuote = false
            } else if c == "\n" || c == "\r" {
                if c == "\r", i + 1 < chars.count, chars[i + 1] == "\n" { i += 1 }
                row.append(field)
                rows.append(row)
                row = []
                field = ""
                afterQuote = false
            } else if c == "\"" && field.allSatisfy(\.isWhitespace) && !afterQuote {
                field = ""  // spaces before an opening quote (`a, "b, c"`) are layout
                quoted = true
            } else if afterQuote && (c == " " || c == "\t") {
                // and so are spaces after the closing one
            } else if afterQuote {
                throw Glossary.CSVError(description: "row \(rows.count + 1) has text after a closing quote")
            } else {
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if quoted { throw Glossary.CSVError(description: "row \(rows.count + 1) opens a quote that never closes") }
        if !field.isEmpty || !row.isEmpty || afterQuote {
            row.append(field)
            rows.append(row)
        }
        return rows
    }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
