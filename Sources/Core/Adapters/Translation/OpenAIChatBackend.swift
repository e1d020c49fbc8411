import Foundation

/// Any OpenAI-compatible chat-completions endpoint (`POST {base}/v1/chat/completions`): OpenAI itself, or
/// a local model server (llama.cpp, vLLM, Ollama, LM Studio).
public struct OpenAIChatBackend: ModelBackend {
    public struct Settings: Sendable {
        /// e.g. `http://localhost:11434` (Ollama) or `https://api.openai.com`; `/v1/chat/completions` is appended.
        public var baseURL: String
        public var model: String
        /// Sent as `Authorization: Bearer …` when set; local servers usually need none.
        public var apiKey: String?
        public var pricing: ModelPricing
        public init(baseURL: String, model: String, apiKey: String? = nil, pricing: ModelPricing = ModelPricing(input: 0, output: 0, cacheWrite: 0, cacheRead: 0)) {
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.pricing = pricing
        }
    }

    public let settings: Settings
    let http: any HTTPTransport
    let logger: Logger
    let retry: APIRetryPolicy
    /// Longest a request may take; long answers are streamed, so this bounds a stalled stream too.
    let timeout: Duration

    public init(settings: Settings, http: any HTTPTransport, logger: Logger, retry: APIRetryPolicy = APIRetryPolicy(), timeout: Duration = .seconds(600)) {
        self.timeout = timeout
        self.settings = settings
        self.http = http
        self.logger = logger
        self.retry = retry
    }

    public var name: String { "openai:\(settings.model)" }

    public func complete(system: String, user: String, maxTokens: Int, cacheSystemPrompt: Bool) async throws -> ModelReply {
        // Prefix caching is automatic on servers that have it; the system prompt first keeps the prefix stable.
        let body = ChatRequest(model: settings.model, messages: [.init(role: "system", content: system), .init(role: "user", content: user)], maxTokens: maxTokens)
        let headers = settings.apiKey.map { [("authorization", "Bearer \($0)")] } ?? []
        let request = try HTTPRequest.json(settings.baseURL + "/v1/chat/completions", body, headers: headers, timeout: timeout)
        let (response, requests) = try await retry.send(request, over: http, logger: logger, service: "chat-completions",
                                                           unreachable: "check that a server runs at OPENAI_BASE_URL", classify: Self.classify)
        guard let answer = try? JSONDecoder().decode(ChatResponse.self, from: response.body), let choice = answer.choices.first else {
            throw TranslationError(.transient, "the chat-completions server returned an unreadable body (HTTP \(response.status))", usage: TokenUsage(requests: requests))
        }
        let cached = answer.usage?.promptTokensDetails?.cachedTokens ?? 0
        var usage = TokenUsage(inputTokens: (answer.usage?.promptTokens ?? 0) - cached, outputTokens: answer.usage?.completionTokens ?? 0,
                               cacheReadTokens: cached, requests: requests)
        usage.costUSD = settings.pricing.cost(of: usage)
        let stop: ModelReply.Stop
        switch choice.finishReason {
        case "stop"?: stop = .complete
        case "length"?: stop = .truncated
        case let other: stop = .other(other ?? "null")
        }
        return ModelReply(text: choice.message.content ?? "", stop: stop, usage: usage)
    }

    static func classify(_ response: HTTPResponse) -> TranslationError {
        let detail = "HTTP \(response.status)\(APIRetryPolicy.errorType(response).map { " \($0)" } ?? "")"
        switch response.status {
        case 401, 403: return TranslationError(.fatal, "the chat-completions server refused the key (\(detail)); set a valid OPENAI_API_KEY")
        case 404: return TranslationError(.fatal, "the chat-completions server has no such model or path (\(detail)); check OPENAI_MODEL and OPENAI_BASE_URL")
        default: return TranslationError(.rejected, detail)
        }
    }
}

private struct ChatRequest: Encodable {
    struct Message: Encodable {
        var role: String
        var content: String
    }
    var model: String
    var messages: [Message]
    var maxTokens: Int
    enum CodingKeys: String, CodingKey {
        case model, messages
        case maxTokens = "max_tokens"
    }
}

private struct ChatResponse: Decodable {
    struct Choice: Decodable {
        struct Message: Decodable { var content: String? }
        var message: Message
        var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case message
            case finishReason = "finish_reason"
        }
    }
    struct Usage: Decodable {
        struct Details: Decodable {
            var cachedTokens: Int?
            enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
        }
        var promptTokens: Int?
        var completionTokens: Int?
        var promptTokensDetails: Details?
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case promptTokensDetails = "prompt_tokens_details"
        }
    }
    var choices: [Choice]
    var usage: Usage?
}
