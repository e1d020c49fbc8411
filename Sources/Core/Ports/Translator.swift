/// What translating cost: tokens by kind, HTTP requests made (retries included) and their price
/// (all zero for offline translators).
public struct TokenUsage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var cacheWriteTokens: Int
    public var cacheReadTokens: Int
    public var requests: Int
    public var costUSD: Double

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cacheWriteTokens: Int = 0, cacheReadTokens: Int = 0, requests: Int = 0, costUSD: Double = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.cacheReadTokens = cacheReadTokens
        self.requests = requests
        self.costUSD = costUSD
    }

    /// The detail fields an event records for this usage.
    public var eventDetail: [String: String] {
        [
            "input_tokens": String(inputTokens), "output_tokens": String(outputTokens),
            "cache_write_tokens": String(cacheWriteTokens), "cache_read_tokens": String(cacheReadTokens),
            "requests": String(requests), "cost_usd": String(format: "%.6f", costUSD),
        ]
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
    /// What the failed attempt still cost (a rejected answer was paid for; a retried 429 was a request).
    public var usage: TokenUsage
    public init(_ kind: Kind, _ description: String, usage: TokenUsage = TokenUsage()) {
        self.kind = kind
        self.description = description
        self.usage = usage
    }
}

/// Translates formatted text, keeping every entity on the words that correspond to the original.
public protocol Translator: Sendable {
    /// Recorded with each translation, e.g. `pseudo` or `claude:claude-haiku-5-5`.
    var name: String { get }
    func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput
}
