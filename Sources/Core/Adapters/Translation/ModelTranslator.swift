import Foundation

/// Translates through a language model (``ModelBackend``): several posts per request, each answer checked
/// (``TranslationAnswer``), and one corrected retry for what failed before a post is given up.
///
/// Retries: a post whose translation broke a rule is asked again once with the reason; an answer cut off at
/// the output limit is asked again post by post with twice the limit; a request the API refused (400, 413)
/// is tried again post by post, so one bad post does not take its neighbours down. What fails the second
/// time is `.rejected` and parked by the job; an API that stays unavailable is `.transient`.
public struct ModelTranslator: Translator {
    public let backend: any ModelBackend
    public let rules: TranslationRules
    public let batchLimits: TranslationBatchLimits
    /// Marks the system prompt for prompt caching (`CLAUDE_PROMPT_CACHE`).
    public let cacheSystemPrompt: Bool
    let logger: Logger

    public init(backend: any ModelBackend, rules: TranslationRules = TranslationRules(), batchLimits: TranslationBatchLimits = .single,
                cacheSystemPrompt: Bool = true, logger: Logger) {
        self.backend = backend
        self.rules = rules
        self.batchLimits = batchLimits
        self.cacheSystemPrompt = cacheSystemPrompt
        self.logger = logger
    }

    public var name: String { backend.name }

    public func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
        let results = try await translate([TranslationItem(postID: 0, content: text)], to: language, glossary: Glossary())
        return try results[0]!.get()
    }

    public func translate(_ items: [TranslationItem], to language: LanguageCode, glossary: Glossary) async throws -> [Int64: Result<TranslationOutput, TranslationError>] {
        var results: [Int64: Result<TranslationOutput, TranslationError>] = [:]
        var spent: [Int64: TokenUsage] = [:]
        let prompt = TranslationPrompt(items: items, language: language, rules: rules, glossary: glossary)
        let first = try await attempt(prompt, maxTokens: nil)
        var corrections: [Int64: String] = [:]
        var alone: [TranslationItem] = []
        var aloneTokens: [Int64: Int] = [:]
        // Why a post asked alone was asked again, for the reason stored if the retry fails too.
        var firstFailure: [Int64: String] = [:]
        for post in prompt.posts {
            let item = post.item
            let outcome = first[item.postID]!
            spent[item.postID, default: TokenUsage()].add(outcome.usage)
            switch outcome.result {
            case .success(let content):
                results[item.postID] = .success(TranslationOutput(content: content, usage: spent[item.postID]!, glossaryHits: post.terms.count))
            case .failure(.truncated(let limit)):
                alone.append(item)
                aloneTokens[item.postID] = limit * 2
                firstFailure[item.postID] = "first answer stopped at the output limit (max_tokens \(limit))"
            case .failure(.refused(let error)) where items.count > 1:
                alone.append(item)
                firstFailure[item.postID] = "the request with other posts was refused: \(error.description)"
            case .failure(.refused(let error)), .failure(.api(let error)):
                results[item.postID] = .failure(with(error, usage: spent[item.postID]!))
            case .failure(.invalid(let reason)):
                corrections[item.postID] = reason
            }
        }
        var retries: [(TranslationPrompt, Int?)] = []
        let corrected = items.filter { corrections[$0.postID] != nil }
        if !corrected.isEmpty {
            retries.append((TranslationPrompt(items: corrected, language: language, rules: rules, glossary: glossary, corrections: corrections), nil))
        }
        for item in alone {
            retries.append((TranslationPrompt(items: [item], language: language, rules: rules, glossary: glossary), aloneTokens[item.postID]))
        }
        for (prompt, maxTokens) in retries {
            let second = try await attempt(prompt, maxTokens: maxTokens)
            for post in prompt.posts {
                let id = post.item.postID
                let outcome = second[id]!
                spent[id, default: TokenUsage()].add(outcome.usage)
                switch outcome.result {
                case .success(let content):
                    results[id] = .success(TranslationOutput(content: content, usage: spent[id]!, glossaryHits: post.terms.count))
                case .failure(.truncated(let limit)):
                    results[id] = .failure(TranslationError(.rejected, "translation stopped at the output limit (max_tokens \(limit)) twice; the post is too long to translate whole", usage: spent[id]!))
                case .failure(.invalid(let reason)):
                    let context = corrections[id].map { "after a corrected retry; first answer: \($0)" } ?? "on a retry; \(firstFailure[id] ?? "first attempt failed")"
                    results[id] = .failure(TranslationError(.rejected, "\(reason) (\(context))", usage: spent[id]!))
                case .failure(.refused(let error)), .failure(.api(let error)):
                    results[id] = .failure(with(error, usage: spent[id]!))
                }
            }
        }
        return results
    }

    private func with(_ error: TranslationError, usage: TokenUsage) -> TranslationError {
        var error = error
        error.usage = usage
        return error
    }

    // MARK: - One request

    enum Failure: Error, CustomStringConvertible {
        case truncated(limit: Int)
        case invalid(String)
        /// The API refused the request (400, 413).
        case refused(TranslationError)
        /// The API was unavailable after retries.
        case api(TranslationError)

        var description: String {
            switch self {
            case .truncated(let limit): "stopped at the output limit (max_tokens \(limit))"
            case .invalid(let reason): reason
            case .refused(let error), .api(let error): error.description
            }
        }
    }

    struct Outcome {
        var result: Result<FormattedText, Failure>
        var usage: TokenUsage
    }

    /// Sends `prompt` once (with the backend's transport retries) and judges each post of the answer.
    /// Throws only fatal errors.
    func attempt(_ prompt: TranslationPrompt, maxTokens: Int?) async throws -> [Int64: Outcome] {
        let limit = maxTokens ?? prompt.maxTokens
        let reply: ModelReply
        do {
            reply = try await backend.complete(system: prompt.system, user: prompt.user, maxTokens: limit, cacheSystemPrompt: cacheSystemPrompt)
        } catch let error as TranslationError {
            if error.kind == .fatal { throw error }
            let failure: Failure = error.kind == .rejected ? .refused(error) : .api(error)
            return Self.spread(prompt, usage: error.usage) { _ in .failure(failure) }
        }
        return judge(reply, prompt: prompt, limit: limit)
    }

    /// Checks every post of `reply`; its usage is shared out by the posts' sizes.
    func judge(_ reply: ModelReply, prompt: TranslationPrompt, limit: Int) -> [Int64: Outcome] {
        switch reply.stop {
        case .truncated:
            logger.warning("translation hit the output limit", ["max_tokens": limit, "posts": prompt.posts.count])
            return Self.spread(prompt, usage: reply.usage) { _ in .failure(.truncated(limit: limit)) }
        case .other(let reason):
            return Self.spread(prompt, usage: reply.usage) { _ in .failure(.invalid("model stopped with stop_reason \(reason) instead of finishing the translation")) }
        case .complete:
            break
        }
        let blocks: [Int: String]
        do {
            blocks = try TranslationAnswer.blocks(reply.text, expecting: Set(prompt.posts.map(\.localID)))
        } catch {
            return Self.spread(prompt, usage: reply.usage) { _ in .failure(.invalid(error.description)) }
        }
        return Self.spread(prompt, usage: reply.usage) { post in
            guard let markup = blocks[post.localID] else { return .failure(.invalid("the answer has no block for this post")) }
            do {
                return .success(try TranslationAnswer.validate(markup, post: post, rules: rules))
            } catch {
                return .failure(.invalid("\(error)"))
            }
        }
    }

    /// One outcome per post, with `usage` split in proportion to the posts' markup sizes.
    static func spread(_ prompt: TranslationPrompt, usage: TokenUsage, _ result: (TranslationPrompt.Post) -> Result<FormattedText, Failure>) -> [Int64: Outcome] {
        let shares = usage.split(weights: prompt.posts.map { Double(max(1, $0.markup.utf16.count)) })
        var outcomes: [Int64: Outcome] = [:]
        for (post, share) in zip(prompt.posts, shares) {
            outcomes[post.item.postID] = Outcome(result: result(post), usage: share)
        }
        return outcomes
    }
}

extension TokenUsage {
    public mutating func add(_ other: TokenUsage) {
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        cacheWriteTokens += other.cacheWriteTokens
        cacheReadTokens += other.cacheReadTokens
        requests += other.requests
        costUSD += other.costUSD
    }

    /// Shares in proportion to `weights` whose token counts and micro-dollars add up exactly to this usage
    /// (largest remainders); the requests go to the first share, so a request is counted once.
    public func split(weights: [Double]) -> [TokenUsage] {
        guard weights.count > 1 else { return weights.isEmpty ? [] : [self] }
        let total = weights.reduce(0, +)
        func parts(_ amount: Int) -> [Int] {
            let exact = weights.map { Double(amount) * $0 / total }
            var floors = exact.map { Int($0.rounded(.down)) }
            let order = exact.indices.sorted { exact[$0] - Double(floors[$0]) > exact[$1] - Double(floors[$1]) }
            for i in order.prefix(amount - floors.reduce(0, +)) { floors[i] += 1 }
            return floors
        }
        let input = parts(inputTokens), output = parts(outputTokens), write = parts(cacheWriteTokens), read = parts(cacheReadTokens)
        // Costs are stored in micro-dollars; shares of whole micro-dollars add up to the request's stored cost.
        let micros = parts(Int((costUSD * 1_000_000).rounded()))
        return weights.indices.map { i in
            TokenUsage(inputTokens: input[i], outputTokens: output[i], cacheWriteTokens: write[i], cacheReadTokens: read[i],
                       requests: i == 0 ? requests : 0, costUSD: Double(micros[i]) / 1_000_000)
        }
    }
}
