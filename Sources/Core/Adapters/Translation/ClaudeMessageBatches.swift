import Foundation

/// A translator that can take a backlog asynchronously: one run submits, a later run collects.
public protocol MessageBatchTranslator: Translator {
    /// Whether this translator's provider offers batches (Claude does; chat-completions servers do not).
    var supportsMessageBatches: Bool { get }
    /// Submits one batch of requests, each a few posts under its `custom_id`; returns the batch id.
    func submitBatch(_ requests: [(customID: String, items: [TranslationItem])], to language: LanguageCode, glossary: Glossary) async throws -> String
    /// The results of batch `id` once it has ended, `nil` while it is still processing.
    ///
    /// - Throws: a `.rejected` ``TranslationError`` when the API does not know the batch any more.
    func collectBatch(_ id: String, requests: [String: [TranslationItem]], to language: LanguageCode, glossary: Glossary) async throws -> BatchCollection?
}

/// What an ended batch returned: an outcome for every post asked for, each with its share of the bill.
public struct BatchCollection: Sendable {
    public var results: [Int64: Result<TranslationOutput, TranslationError>]
    /// `processing_status` when collected (`ended`); expired or canceled requests show in their posts' results.
    public var outcome: String
}

/// Anthropic's Message Batches API (`/v1/messages/batches`): half price, results within 24 hours, matched by
/// `custom_id` because they come back in any order.
///
/// A batch answer is judged like a live one, but not retried on the spot: a post whose answer failed a check
/// counts an attempt and becomes pending again, so a later run (live or batched) asks once more.
extension ModelTranslator: MessageBatchTranslator {
    public var supportsMessageBatches: Bool { backend is ClaudeMessagesBackend }

    private var claude: ClaudeMessagesBackend {
        get throws {
            guard let claude = backend as? ClaudeMessagesBackend else {
                throw TranslationError(.fatal, "\(backend.name) has no Message Batches API; set TRANSLATE_BATCH_API_THRESHOLD=0")
            }
            return claude
        }
    }

    public func submitBatch(_ requests: [(customID: String, items: [TranslationItem])], to language: LanguageCode, glossary: Glossary) async throws -> String {
        let claude = try claude
        let body = BatchCreateRequest(requests: requests.map { request in
            let prompt = TranslationPrompt(items: request.items, language: language, rules: rules, glossary: glossary)
            return .init(customID: request.customID, params: ClaudeMessagesBackend.body(
                model: claude.settings.model, system: prompt.system, user: prompt.user, maxTokens: prompt.maxTokens,
                cache: cacheSystemPrompt, stream: false))
        })
        let request = try HTTPRequest.json(claude.settings.baseURL + "/v1/messages/batches", body, headers: claude.headers, timeout: .seconds(300))
        // Not repeated after a timeout or 5xx: the batch may exist already, and a second one would be paid twice.
        let (response, _) = try await claude.retry.send(request, over: claude.http, logger: logger, service: "anthropic batches", idempotent: false,
                                                        classify: ClaudeMessagesBackend.classify)
        guard let batch = try? JSONDecoder().decode(BatchStatus.self, from: response.body) else {
            throw TranslationError(.transient, "Anthropic returned an unreadable batch (HTTP \(response.status))")
        }
        return batch.id
    }

    public func collectBatch(_ id: String, requests: [String: [TranslationItem]], to language: LanguageCode, glossary: Glossary) async throws -> BatchCollection? {
        let claude = try claude
        let statusRequest = HTTPRequest(method: .GET, url: claude.settings.baseURL + "/v1/messages/batches/\(id)", headers: claude.headers, timeout: .seconds(60))
        let (statusResponse, _) = try await claude.retry.send(statusRequest, over: claude.http, logger: logger, service: "anthropic batches") { response in
            // A batch the API does not know any more is this batch's problem, not the configuration's.
            response.status == 404
                ? TranslationError(.rejected, "Anthropic does not know batch \(id) (HTTP 404)")
                : ClaudeMessagesBackend.classify(response)
        }
        guard let status = try? JSONDecoder().decode(BatchStatus.self, from: statusResponse.body) else {
            throw TranslationError(.transient, "Anthropic returned an unreadable batch status (HTTP \(statusResponse.status))")
        }
        guard status.processingStatus == "ended" else { return nil }
        var lines: [String: BatchResultLine] = [:]
        if let url = status.resultsURL {
            let resultsRequest = HTTPRequest(method: .GET, url: url, headers: claude.headers, timeout: .seconds(300))
            let (results, _) = try await claude.retry.send(resultsRequest, over: claude.http, logger: logger, service: "anthropic batches", classify: ClaudeMessagesBackend.classify)
            for line in String(decoding: results.body, as: UTF8.self).split(whereSeparator: \.isNewline) {
                guard let parsed = try? JSONDecoder().decode(BatchResultLine.self, from: Data(line.utf8)) else {
                    logger.warning("unreadable line in batch results", ["batch_id": id])
                    continue
                }
                lines[parsed.customID] = parsed
            }
        }
        var collection = BatchCollection(results: [:], outcome: "ended")
        for (customID, items) in requests {
            let prompt = TranslationPrompt(items: items, language: language, rules: rules, glossary: glossary)
            guard let line = lines[customID], line.result.type == "succeeded", let message = line.result.message else {
                let why = lines[customID].map { line in
                    "batch request \(line.result.type)" + (line.result.error.map { ": \($0.error?.type ?? $0.type ?? "error") \($0.error?.message ?? "")" } ?? "")
                } ?? "batch results have no \(customID)"
                for item in items { collection.results[item.postID] = .failure(TranslationError(.transient, why)) }
                continue
            }
            let outcomes = judge(claude.reply(from: message, requests: 1, batch: true), prompt: prompt, limit: prompt.maxTokens)
            for post in prompt.posts {
                let outcome = outcomes[post.item.postID]!
                switch outcome.result {
                case .success(let content):
                    collection.results[post.item.postID] = .success(TranslationOutput(content: content, usage: outcome.usage, glossaryHits: post.terms.count))
                case .failure(let failure):
                    collection.results[post.item.postID] = .failure(TranslationError(.transient, "batch answer not accepted: \(failure)", usage: outcome.usage))
                }
            }
        }
        return collection
    }
}

private struct BatchCreateRequest: Encodable {
    struct Item: Encodable {
        var customID: String
        var params: MessagesRequest
        enum CodingKeys: String, CodingKey {
            case customID = "custom_id"
            case params
        }
    }
    var requests: [Item]
}

private struct BatchStatus: Decodable {
    var id: String
    var processingStatus: String
    var resultsURL: String?
    enum CodingKeys: String, CodingKey {
        case id
        case processingStatus = "processing_status"
        case resultsURL = "results_url"
    }
}

private struct BatchResultLine: Decodable {
    struct Result: Decodable {
        struct ErrorBody: Decodable {
            struct Detail: Decodable {
                var type: String?
                var message: String?
            }
            var type: String?
            var error: Detail?
        }
        var type: String
        var message: MessagesResponse?
        var error: ErrorBody?
    }
    var customID: String
    var result: Result
    enum CodingKeys: String, CodingKey {
        case customID = "custom_id"
        case result
    }
}
