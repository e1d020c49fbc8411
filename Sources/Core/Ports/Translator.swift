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
    /// Glossary terms the post held, each rendered as the glossary says (checked).
    public var glossaryHits: Int
    public init(content: FormattedText, usage: TokenUsage = TokenUsage(), glossaryHits: Int = 0) {
        self.content = content
        self.usage = usage
        self.glossaryHits = glossaryHits
    }
}

/// A failure to translate one text; the post stays pending and the reason is stored for the operator.
public struct TranslationError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Retrying later may succeed (rate limit, overload, timeout); counts as an attempt.
        case transient
        /// The answer was broken even after a corrected retry, or the API refuses this request; retrying the
        /// same post will not help, so it is parked for the operator at once.
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

extension Result where Success == TranslationOutput, Failure == TranslationError {
    /// What producing this outcome cost, a failure included.
    public var usage: TokenUsage {
        switch self {
        case .success(let output): output.usage
        case .failure(let error): error.usage
        }
    }
}

/// One post of a translation request.
public struct TranslationItem: Sendable {
    public var postID: Int64
    public var content: FormattedText
    public init(postID: Int64, content: FormattedText) {
        self.postID = postID
        self.content = content
    }
}

/// Translates formatted text, keeping every entity on the words that correspond to the original.
public protocol Translator: Sendable {
    /// Recorded with each translation, e.g. `pseudo` or `claude:claude-haiku-5-5`.
    var name: String { get }
    /// How many posts, and how much text, one request may carry.
    var batchLimits: TranslationBatchLimits { get }
    func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput
    /// Translates several posts at once, each with its own outcome.
    ///
    /// - Throws: only a ``TranslationError`` of kind ``TranslationError/Kind/fatal``: the job must stop.
    func translate(_ items: [TranslationItem], to language: LanguageCode, glossary: Glossary) async throws -> [Int64: Result<TranslationOutput, TranslationError>]
}

/// How big one request may get: a few short posts share the prompt, a long post travels alone.
public struct TranslationBatchLimits: Sendable, Hashable {
    public var posts: Int
    /// UTF-16 code units of post text per request (a post longer than this goes alone).
    public var characters: Int
    public init(posts: Int, characters: Int) {
        self.posts = max(1, posts)
        self.characters = max(1, characters)
    }
    public static let single = TranslationBatchLimits(posts: 1, characters: .max)

    /// Cuts `items` (in order) into requests within the limits.
    public func chunks(_ items: [TranslationItem]) -> [[TranslationItem]] {
        var chunks: [[TranslationItem]] = []
        var current: [TranslationItem] = []
        var size = 0
        for item in items {
            let length = item.content.utf16Length
            if !current.isEmpty, current.count >= posts || size + length > characters {
                chunks.append(current)
                current = []
                size = 0
            }
            current.append(item)
            size += length
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }
}

extension Translator {
    public var batchLimits: TranslationBatchLimits { .single }

    /// One post at a time through ``translate(_:to:)``; for translators without batching or glossary support.
    public func translate(_ items: [TranslationItem], to language: LanguageCode, glossary: Glossary) async throws -> [Int64: Result<TranslationOutput, TranslationError>] {
        var results: [Int64: Result<TranslationOutput, TranslationError>] = [:]
        for item in items {
            do {
                results[item.postID] = .success(try await translate(item.content, to: language))
            } catch let error as TranslationError where error.kind != .fatal {
                results[item.postID] = .failure(error)
            }
        }
        return results
    }
}
