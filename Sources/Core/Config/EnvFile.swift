import Foundation

/// Reads `KEY=VALUE` files (`.env`, `app_settings.env`) in the dotenv dialect Heroku's tooling uses.
///
/// Blank lines and `#` comments are skipped, `export ` is allowed, values may be single-quoted (literal) or
/// double-quoted (`\n`, `\"`, `\\` escapes). A malformed line is reported with its number, not skipped.
public enum EnvFile {
    public struct Problem: Error, Sendable, Equatable {
        public let file: String
        public let line: Int
        public let reason: String
    }

    public static func parse(_ text: String, file: String) throws(Problem) -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var body = trimmed
            if body.hasPrefix("export ") { body = body.dropFirst("export ".count) }
            guard let eq = body.firstIndex(of: "=") else {
                throw Problem(file: file, line: index + 1, reason: "expected KEY=VALUE")
            }
            let key = body[..<eq].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !(key.first!.isNumber) else {
                throw Problem(file: file, line: index + 1, reason: "invalid variable name")
            }
            let rawValue = body[body.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            values[key] = try unquote(rawValue, file: file, line: index + 1)
        }
        return values
    }

    private static func unquote(_ value: String, file: String, line: Int) throws(Problem) -> String {
        guard let quote = value.first, quote == "\"" || quote == "'" else {
            // An unquoted value ends at an inline comment.
            if let hash = value.range(of: " #") { return value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces) }
            return value
        }
        guard value.count >= 2, value.last == quote else {
            throw Problem(file: file, line: line, reason: "unterminated \(quote) quote")
        }
        let inner = value.dropFirst().dropLast()
        if quote == "'" { return String(inner) }
        var out = ""
        var escaping = false
        for c in inner {
            if escaping {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
