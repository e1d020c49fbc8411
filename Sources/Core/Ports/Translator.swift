/// Tokens a translation consumed (zero for offline translators).
public struct TokenUsage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    public init(inputTokens: Int = 0, outputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// One translated text and what it cost.
public struct TranslationOutput: Sendable {
    public var content: FormattedText
    public var usage: TokenUsage
    public init(content: FormattedText, usage: TokenUsage = TokenUsage()) {
        self.content = content
        self.usage = usage
    }
}

/// A failure to translate one text; the post stays pending and the reason is stored for the operator.
public struct TranslationError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Retrying later may succeed (rate limit, overload, timeout).
        case transient
        /// The request or the answer is wrong for this post; retrying the same post will not help.
        case rejected
        /// Configuration is wrong (bad API key); every post would fail, so the job stops.
        case fatal
    }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Translates formatted text, keeping every entity on the words that correspond to the original.
public protocol Translator: Sendable {
    /// Recorded with each translation, e.g. `pseudo` or `claude:claude-haiku-5-5`.
    var name: String { get }
    func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput
}
