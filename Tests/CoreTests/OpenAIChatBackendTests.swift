import Foundation
import Testing
import TestSupport

@testable import Core

/// The second provider: any OpenAI-compatible chat-completions server, behind the same translator.
@Suite struct OpenAIChatBackendTests {
    static func completion(_ content: String, finish: String = "stop", prompt: Int = 200, cached: Int = 0, completion: Int = 20) -> LocalHTTPServer.Reply {
        let body: [String: Any] = [
            "id": "chatcmpl-1", "object": "chat.completion", "model": "qwen2.5:7b",
            "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": finish]],
            "usage": ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, "prompt_tokens_details": ["cached_tokens": cached]],
        ]
        return .respond(status: 200, headers: [("content-type", "application/json")], body: try! JSONSerialization.data(withJSONObject: body))
    }

    func translator(_ server: LocalHTTPServer, key: String? = "local-key") -> ModelTranslator {
        let settings = OpenAIChatBackend.Settings(baseURL: server.baseURL, model: "qwen2.5:7b", apiKey: key,
                                                  pricing: ModelPricing(input: 1, output: 2, cacheWrite: 0, cacheRead: 0.5))
        return ModelTranslator(backend: OpenAIChatBackend(settings: settings, http: HTTPClient(), logger: Logger(level: .error),
                                                          retry: APIRetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10))),
                               logger: Logger(level: .error))
    }

    @Test func translatesThroughChatCompletionsWithTheSameChecks() async throws {
        let queue = FakeAnthropicQueue([
            .json(503, #"{"error":{"message":"model is loading","type":"unavailable"}}"#),
            Self.completion("<translation id=\"1\">\n<e0>Alert!</e0> Details: <e1/>\n</translation>", prompt: 200, cached: 150),
        ])
        let server = try LocalHTTPServer { _ in queue.next() }
        defer { server.stop() }
        let post = FormattedText(text: "Тривога! Деталі: https://t.me/x", entities: [
            MessageEntity(type: "bold", offset: 0, length: 8), MessageEntity(type: "url", offset: 17, length: 14),
        ])
        let output = try await translator(server).translate(post, to: LanguageCode("en")!)
        #expect(output.content.text == "Alert! Details: https://t.me/x")
        #expect(output.content.entities.map { output.content.substring(utf16: $0.range)! } == ["Alert!", "https://t.me/x"])
        #expect(output.usage.inputTokens == 50 && output.usage.cacheReadTokens == 150 && output.usage.outputTokens == 20 && output.usage.requests == 2)
        // 50·1 + 150·0.5 + 20·2 = 165 µ$
        #expect(abs(output.usage.costUSD - 0.000165) < 1e-12)
        let request = server.requests[1]
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer local-key")
        let body = try JSONSerialization.jsonObject(with: request.body) as! [String: Any]
        let messages = body["messages"] as! [[String: String]]
        #expect(messages.map { $0["role"]! } == ["system", "user"])
        #expect(messages[1]["content"] == "<posts>\n<post id=\"1\">\n<e0>Тривога!</e0> Деталі: <e1/>\n</post>\n</posts>")
        #expect(body["model"] as? String == "qwen2.5:7b" && body["max_tokens"] as? Int == 1024)
    }

    @Test func aServerThatIsNotRunningIsNamedWithWhatToCheck() async throws {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let settings = OpenAIChatBackend.Settings(baseURL: "http://127.0.0.1:9", model: "qwen2.5:7b")
        let backend = OpenAIChatBackend(settings: settings, http: HTTPClient(), logger: Logger(level: .error), retry: APIRetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10)))
        let error = await #expect(throws: TranslationError.self) { try await backend.complete(system: "s", user: "u", maxTokens: 16, cacheSystemPrompt: false) }
        #expect(error?.kind == .transient)
        #expect(error?.description.hasPrefix("http connectionFailed POST http://127.0.0.1:9/v1/chat/completions") == true)
        #expect(error?.description.hasSuffix(" after 2 attempts; check that a server runs at OPENAI_BASE_URL") == true)
    }

    @Test func finishReasonLengthIsTruncationAndABadKeyNamesTheVariable() async throws {
        let queue = FakeAnthropicQueue([Self.completion("<translation id=\"1\">\nAl", finish: "length"), Self.completion("<translation id=\"1\">\nAlert!\n</translation>")])
        let server = try LocalHTTPServer { _ in queue.next() }
        defer { server.stop() }
        let output = try await translator(server, key: nil).translate(FormattedText(text: "Тривога!"), to: LanguageCode("en")!)
        #expect(output.content.text == "Alert!")
        #expect(server.requests[0].headers["authorization"] == nil)
        let limits = server.requests.map { (try! JSONSerialization.jsonObject(with: $0.body) as! [String: Any])["max_tokens"] as! Int }
        #expect(limits == [1024, 2048])

        let denied = FakeAnthropicQueue([.json(401, #"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#)])
        let server2 = try LocalHTTPServer { _ in denied.next() }
        defer { server2.stop() }
        let error = await #expect(throws: TranslationError.self) {
            try await translator(server2).translate([TranslationItem(postID: 1, content: FormattedText(text: "x"))], to: LanguageCode("en")!, glossary: Glossary())
        }
        #expect(error?.kind == .fatal)
        #expect(error?.description == "the chat-completions server refused the key (HTTP 401 invalid_request_error: Incorrect API key provided); set a valid OPENAI_API_KEY")
    }
}

/// Scripted replies in order.
final class FakeAnthropicQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [LocalHTTPServer.Reply]
    init(_ replies: [LocalHTTPServer.Reply]) { self.replies = replies }
    func next() -> LocalHTTPServer.Reply { lock.withLock { replies.isEmpty ? .json(500, #"{"error":{"message":"script exhausted"}}"#) : replies.removeFirst() } }
}
