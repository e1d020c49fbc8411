import Foundation

/// Reads `KEY=VALUE` files (`.env`, `app_settings.env`) in the dotenv dialect Heroku's tooling uses.
///
/// Blank lines and `#` comments are skipped, `export ` is allowed, values may be single-quoted (literal) or
/// double-quoted (`\n`, `\"`, `\\` escapes), and a ` # comment` may follow a value. A malformed line is
/// reported with its number; the other lines still count, so one typo does not hide the whole file.
public enum EnvFile {
    public struct Problem: Error, Sendable, Equatable {
        public let file: String
        public let line: Int
        public let reason: String
    }

    /// The values of every well-formed line, and a problem for each malformed one.
    public static func parse(_ text: String, file: String) -> (values: [String: String], problems: [Problem]) {
        var values: [String: String] = [:]
        var problems: [Problem] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            do {
                if let (key, value) = try parseLine(rawLine) { values[key] = value }
            } catch {
                problems.append(Problem(file: file, line: index + 1, reason: error.description))
            }
        }
        return (values, problems)
    }

    private struct LineError: Error, CustomStringConvertible { let description: String }

    private static func parseLine(_ rawLine: Substring) throws(LineError) -> (String, String)? {
        var line = rawLine
        if line.hasSuffix("\r") { line = line.dropLast() }
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
        var body = trimmed
        if body.hasPrefix("export ") { body = body.dropFirst("export ".count) }
        guard let eq = body.firstIndex(of: "=") else { throw LineError(description: "expected KEY=VALUE") }
        let key = body[..<eq].trimmingCharacters(in: .whitespaces)
        guard let first = key.first, !first.isNumber, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw LineError(description: "invalid variable name")
        }
        let rawValue = body[body.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        return (key, try unquote(rawValue))
    }

    private static func unquote(_ value: String) throws(LineError) -> String {
        guard let quote = value.first, quote == "\"" || quote == "'" else {
            // An unquoted value ends at an inline comment.
            if let hash = value.range(of: " #") { return value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces) }
            return value
        }
        var out = ""
        var escaping = false
        var rest = value.dropFirst()
        while let c = rest.first {
            rest = rest.dropFirst()
            if escaping {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" && quote == "\"" {
                escaping = true
            } else if c == quote {
                // After the closing quote only whitespace and a comment may follow.
                let tail = rest.trimmingCharacters(in: .whitespaces)
                guard tail.isEmpty || tail.hasPrefix("#") else { throw LineError(description: "unexpected text after the closing \(quote) quote") }
                return out
            } else {
                out.append(c)
            }
        }
        throw LineError(description: "unterminated \(quote) quote")
    }
}
