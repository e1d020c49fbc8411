import Foundation
import Synchronization

/// Replaces known secret values (tokens, API keys, database passwords) in any text before it is printed.
///
/// Config registers every secret it loads; the logger and the error printer pass all output through
/// ``redact(_:)``. Values shorter than four characters are ignored: masking them would garble ordinary text.
public final class SecretRedactor: Sendable {
    /// The process-wide redactor used by ``Logger`` and the CLI's error printer.
    public static let shared = SecretRedactor()

    private let secrets = Mutex<Set<String>>([])

    public init() {}

    /// Adds a value that must never be printed.
    public func register(_ secret: String) {
        guard secret.count >= 4 else { return }
        secrets.withLock { _ = $0.insert(secret) }
        // Percent-encoded forms appear inside URLs and connection strings.
        if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != secret {
            secrets.withLock { _ = $0.insert(encoded) }
        }
    }

    /// `text` with every registered secret and every Bot API token replaced by a mask.
    public func redact(_ text: String) -> String {
        var result = Self.maskBotTokens(in: text)
        let current = secrets.withLock { $0 }
        // Longest first, so a secret that contains another is masked whole.
        for secret in current.sorted(by: { $0.count > $1.count }) where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "[REDACTED]")
        }
        return result
    }

    /// Bot API URLs carry the token in the path (`/bot123456:ABC…/sendMessage`); mask any such token
    /// even when it was never registered (for example one that came from a database row).
    static func maskBotTokens(in text: String) -> String {
        guard text.contains("bot") else { return text }
        var out = ""
        var rest = Substring(text)
        while let range = rest.range(of: "bot") {
            out += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            let afterDigits = rest.dropFirst(digits.count)
            if digits.count >= 3, afterDigits.first == ":" {
                let secret = afterDigits.dropFirst().prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
                if secret.count >= 10 {
                    out += digits + ":[REDACTED]"
                    rest = afterDigits.dropFirst(1 + secret.count)
                }
            }
        }
        return out + rest
    }
}
