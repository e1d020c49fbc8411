import Foundation

/// Anthropic's Messages API (`POST /v1/messages`).
///
/// The system prompt is one text block marked `cache_control: ephemeral`, so requests of a run share its
/// cached prefix (billed at a tenth after the first write). Long answers are streamed (SSE), because the API
/// may drop a connection that stays idle for minutes; short ones come back as one JSON body. Either way
/// `stop_reason` decides whether the text is complete.
public struct ClaudeMessagesBackend: ModelBackend {
    public let settings: Config.AnthropicSettings
    let http: any HTTPTransport
    let logger: Logger
    let retry: APIRetryPolicy
    /// Longest a request may take; long answers are streamed, so this bounds a stalled stream too.
    let timeout: Duration
    /// Answers allowed more output tokens than this are streamed.
    static let streamAbove = 8_192

    public init(settings: Config.AnthropicSettings, http: any HTTPTransport, logger: Logger, retry: APIRetryPolicy = APIRetryPolicy(), timeout: Duration = .seconds(600)) {
        self.timeout = timeout
        self.settings = settings
        self.http = http
        self.logger = logger
        self.retry = retry
    }

    public var name: String { "claude:\(settings.model)" }

    var headers: [(String, String)] { [("x-api-key", settings.apiKey), ("anthropic-version", "2023-06-01")] }

    public func complete(system: String, user: String, maxTokens: Int, cacheSystemPrompt: Bool) async throws -> ModelReply {
        let body = Self.body(model: settings.model, system: system, user: user, maxTokens: maxTokens, cache: cacheSystemPrompt, stream: maxTokens > Self.streamAbove)
        let request = try HTTPRequest.json(settings.baseURL + "/v1/messages", body, headers: headers, timeout: timeout)
        let (response, requests) = try await retry.send(request, over: http, logger: logger, service: "anthropic",
                                                           unreachable: "check ANTHROPIC_BASE_URL and the network", classify: Self.classify)
        do {
            let message: MessagesResponse
            if response[header: "content-type"]?.hasPrefix("text/event-stream") == true {
                message = try SSEMessage.assemble(response.body)
            } else {
                message = try JSONDecoder().decode(MessagesResponse.self, from: response.body)
            }
            return reply(from: message, requests: requests, batch: false)
        } catch var error as TranslationError {
            error.usage.requests = requests
            throw error
        } catch {
            throw TranslationError(.transient, "Anthropic returned an unreadable body (HTTP \(response.status))", usage: TokenUsage(requests: requests))
        }
    }

    /// Usage, cost and completeness of one message; batch results cost half.
    func reply(from message: MessagesResponse, requests: Int, batch: Bool) -> ModelReply {
        var usage = TokenUsage(
            inputTokens: message.usage?.inputTokens ?? 0, outputTokens: message.usage?.outputTokens ?? 0,
            cacheWriteTokens: message.usage?.cacheCreationInputTokens ?? 0, cacheReadTokens: message.usage?.cacheReadInputTokens ?? 0,
            requests: requests)
        usage.costUSD = settings.pricing.cost(of: usage) * (batch ? 0.5 : 1)
        let stop: ModelReply.Stop
        switch message.stopReason {
        case "end_turn"?, "stop_sequence"?: stop = .complete
        case "max_tokens"?, "model_context_window_exceeded"?: stop = .truncated
        case let other: stop = .other(other ?? "null")
        }
        // Newer models may put thinking blocks first: the answer is the text blocks.
        let text = message.content.filter { $0.type == "text" }.compactMap(\.text).joined()
        return ModelReply(text: text, stop: stop, usage: usage)
    }

    /// 401 and 403 are the key's fault and 404 the model's or URL's, for every post alike; 400 and 413 are
    /// this request's.
    static func classify(_ response: HTTPResponse) -> TranslationError {
        let detail = "HTTP \(response.status)\(APIRetryPolicy.errorType(response).map { " \($0)" } ?? "")"
        switch response.status {
        case 401: return TranslationError(.fatal, "Anthropic rejected the API key (\(detail)); set a valid ANTHROPIC_API_KEY")
        case 403: return TranslationError(.fatal, "Anthropic refused access (\(detail)); check the key's permissions for CLAUDE_MODEL")
        case 404: return TranslationError(.fatal, "Anthropic does not know this model or path (\(detail)); check CLAUDE_MODEL and ANTHROPIC_BASE_URL")
        default: return TranslationError(.rejected, detail)
        }
    }

    static func body(model: String, system: String, user: String, maxTokens: Int, cache: Bool, stream: Bool) -> MessagesRequest {
        MessagesRequest(
            model: model, maxTokens: maxTokens,
            system: [.init(type: "text", text: system, cacheControl: cache ? .init(type: "ephemeral") : nil)],
            messages: [.init(role: "user", content: user)], stream: stream ? true : nil)
    }
}

// MARK: - Wire format

struct MessagesRequest: Codable {
    struct CacheControl: Codable { var type: String }
    struct SystemBlock: Codable {
        var type: String
        var text: String
        var cacheControl: CacheControl?
        enum CodingKeys: String, CodingKey {
            case type, text
            case cacheControl = "cache_control"
        }
    }
    struct Message: Codable {
        var role: String
        var content: String
    }
    var model: String
    var maxTokens: Int
    var system: [SystemBlock]
    var messages: [Message]
    var stream: Bool?

    enum CodingKeys: String, CodingKey {
        case model
        case maxTokens = "max_tokens"
        case system, messages, stream
    }
}

struct MessagesResponse: Decodable {
    struct Block: Decodable {
        var type: String
        var text: String?
    }
    struct Usage: Decodable {
        var inputTokens: Int?
        var outputTokens: Int?
        var cacheCreationInputTokens: Int?
        var cacheReadInputTokens: Int?
        enum CodingKeys: String, CodingKey {
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case cacheCreationInputTokens = "cache_creation_input_tokens"
            case cacheReadInputTokens = "cache_read_input_tokens"
        }
    }
    var content: [Block]
    var stopReason: String?
    var usage: Usage?

    enum CodingKeys: String, CodingKey {
        case content
        case stopReason = "stop_reason"
        case usage
    }
}

/// Folds a Messages SSE stream (`message_start`, `content_block_*`, `message_delta`, `message_stop`) into the
/// message it describes. An `error` event, or a stream that ends before `message_stop`, is a failure.
enum SSEMessage {
    private struct Event: Decodable {
        struct Delta: Decodable {
            var type: String?
            var text: String?
            var stopReason: String?
            enum CodingKeys: String, CodingKey {
                case type, text
                case stopReason = "stop_reason"
            }
        }
        struct StartBlock: Decodable {
            var type: String
            var text: String?
        }
        struct Start: Decodable {
            var usage: MessagesResponse.Usage?
        }
        struct ErrorDetail: Decodable {
            var type: String
            var message: String
        }
        var type: String
        var index: Int?
        var message: Start?
        var contentBlock: StartBlock?
        var delta: Delta?
        var usage: MessagesResponse.Usage?
        var error: ErrorDetail?
        enum CodingKeys: String, CodingKey {
            case type, index, message, delta, usage, error
            case contentBlock = "content_block"
        }
    }

    static func assemble(_ body: Data) throws -> MessagesResponse {
        var blocks: [Int: MessagesResponse.Block] = [:]
        var usage = MessagesResponse.Usage()
        var stopReason: String?
        var stopped = false
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        for chunk in text.components(separatedBy: "\n\n") {
            var eventName = ""
            var data = ""
            for line in chunk.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("event:") { eventName = line.dropFirst(6).trimmingCharacters(in: .whitespaces) }
                if line.hasPrefix("data:") { data += line.dropFirst(5).trimmingCharacters(in: .whitespaces) }
            }
            if eventName == "message_stop" { stopped = true }
            guard !data.isEmpty else { continue }
            let event = try JSONDecoder().decode(Event.self, from: Data(data.utf8))
            switch event.type {
            case "message_start":
                if let u = event.message?.usage { usage = merge(usage, u) }
            case "content_block_start":
                if let index = event.index, let block = event.contentBlock { blocks[index] = .init(type: block.type, text: block.text ?? "") }
            case "content_block_delta":
                if let index = event.index, let delta = event.delta, delta.type == "text_delta", let piece = delta.text {
                    blocks[index, default: .init(type: "text", text: "")].text! += piece
                }
            case "message_delta":
                if let reason = event.delta?.stopReason { stopReason = reason }
                if let u = event.usage { usage = merge(usage, u) }
            case "message_stop":
                stopped = true
            case "error":
                let detail = event.error.map { "\($0.type): \($0.message)" } ?? "error"
                throw TranslationError(.transient, "Anthropic stream failed mid-answer (\(detail))")
            default:
                break  // ping, content_block_stop, and event types added later
            }
        }
        guard stopped else { throw TranslationError(.transient, "Anthropic stream ended before message_stop (connection dropped)") }
        return MessagesResponse(content: blocks.keys.sorted().map { blocks[$0]! }, stopReason: stopReason, usage: usage)
    }

    /// Later usage figures (message_delta) replace earlier ones field by field.
    private static func merge(_ a: MessagesResponse.Usage, _ b: MessagesResponse.Usage) -> MessagesResponse.Usage {
        .init(inputTokens: b.inputTokens ?? a.inputTokens, outputTokens: b.outputTokens ?? a.outputTokens,
              cacheCreationInputTokens: b.cacheCreationInputTokens ?? a.cacheCreationInputTokens,
              cacheReadInputTokens: b.cacheReadInputTokens ?? a.cacheReadInputTokens)
    }
}
