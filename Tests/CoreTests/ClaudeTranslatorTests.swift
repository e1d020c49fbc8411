import Foundation
import Testing
import TestSupport

@testable import Core

/// A fake Anthropic Messages API: scripted replies in the real wire format.
final class FakeAnthropic: @unchecked Sendable {
    let server: LocalHTTPServer
    var settings: Config.AnthropicSettings {
        .init(apiKey: "sk-ant-test-key-0001", model: "claude-haiku-5-5", baseURL: server.baseURL, pricing: ModelPricing.defaults["claude-haiku-5-5"]!)
    }

    init(_ replies: [LocalHTTPServer.Reply]) throws {
        let queue = ReplyQueue(replies)
        server = try LocalHTTPServer { _ in queue.next() }
    }

    /// A 200 Messages response whose text block is `text`.
    static func message(_ text: String, stopReason: String = "end_turn", cacheWrite: Int = 0, cacheRead: Int = 0) -> LocalHTTPServer.Reply {
        let body: [String: Any] = [
            "id": "msg_01Test", "type": "message", "role": "assistant", "model": "claude-haiku-5-5",
            "content": [["type": "text", "text": text]], "stop_reason": stopReason, "stop_sequence": NSNull(),
            "usage": ["input_tokens": 321, "output_tokens": 45, "cache_creation_input_tokens": cacheWrite, "cache_read_input_tokens": cacheRead],
        ]
        return .respond(status: 200, headers: [("content-type", "application/json"), ("request-id", "req_01Test")], body: try! JSONSerialization.data(withJSONObject: body))
    }

    /// The recorded exchanges in `../shared/fixtures/anthropic_api`, as replies.
    static func recorded(_ file: String) throws -> [LocalHTTPServer.Reply] {
        let exchanges = try JSONSerialization.jsonObject(with: Data(contentsOf: Paths.fixture("anthropic_api/\(file)"))) as! [[String: Any]]
        return try exchanges.map { exchange in
            let response = exchange["response"] as! [String: Any]
            let headers = (response["headers"] as! [String: String]).filter { $0.key != "content-length" && $0.key != "connection" }.map { ($0.key, $0.value) }
            return .respond(status: response["status_code"] as! Int, headers: headers, body: try JSONSerialization.data(withJSONObject: response["body"]!))
        }
    }

    final class ReplyQueue: @unchecked Sendable {
        private let lock = NSLock()
        private var replies: [LocalHTTPServer.Reply]
        init(_ replies: [LocalHTTPServer.Reply]) { self.replies = replies }
        func next() -> LocalHTTPServer.Reply {
            lock.withLock { replies.isEmpty ? .json(500, #"{"type":"error","error":{"type":"api_error","message":"script exhausted"}}"#) : replies.removeFirst() }
        }
    }
}

@Suite struct ClaudeTranslatorTests {
    let source = FormattedText(text: "Text with Format, see https://t.me/x #news", entities: [
        MessageEntity(type: "bold", offset: 0, length: 4),
        MessageEntity(type: "text_link", offset: 10, length: 6, url: "http://t.me"),
        MessageEntity(type: "url", offset: 22, length: 14),
        MessageEntity(type: "hashtag", offset: 37, length: 5),
    ])
    let de = LanguageCode("de")!

    func translator(_ fake: FakeAnthropic, attempts: Int = 4) -> ClaudeTranslator {
        ClaudeTranslator(settings: fake.settings, http: HTTPClient(), logger: Logger(level: .error), maxAttempts: attempts)
    }

    @Test func formattingLandsOnTheCorrespondingWords() async throws {
        // Field report B02: bold on the word for "Text", link on the word for "Format".
        let fake = try FakeAnthropic([FakeAnthropic.message("<translation>\n<e0>Text</e0> mit <e1>Format</e1>, siehe <e2>https://t.me/x</e2> <e3>#news</e3>\n</translation>")])
        let output = try await translator(fake).translate(source, to: de)
        #expect(output.content.text == "Text mit Format, siehe https://t.me/x #news")
        #expect(output.content.entities.map { output.content.substring(utf16: $0.range)! } == ["Text", "Format", "https://t.me/x", "#news"])
        #expect(output.content.entities[1].url == "http://t.me")
        #expect(output.usage.inputTokens == 321 && output.usage.outputTokens == 45 && output.usage.requests == 1)
        // Haiku 5.5 list price: $0.10 in, $0.50 out per MTok → 321·0.10 + 45·0.50 = 54.6 µ$.
        #expect(abs(output.usage.costUSD - 0.0000546) < 1e-12)

        let request = try #require(fake.server.requests.first)
        #expect(request.path == "/v1/messages")
        #expect(request.headers["x-api-key"] == "sk-ant-test-key-0001")
        #expect(request.headers["anthropic-version"] == "2023-06-01")
        let body = try JSONSerialization.jsonObject(with: request.body) as! [String: Any]
        #expect(body["model"] as? String == "claude-haiku-5-5")
        #expect(body["temperature"] == nil)
        let user = ((body["messages"] as! [[String: Any]])[0]["content"] as! String)
        #expect(user == "<post>\n<e0>Text</e0> with <e1>Format</e1>, see <e2>https://t.me/x</e2> <e3>#news</e3>\n</post>")
    }

    @Test func recordedRateLimitsAreRetriedThenSucceed() async throws {
        var replies = try FakeAnthropic.recorded("recorded_429_rate_limit_error_x2_then_200.json")
        replies[2] = FakeAnthropic.message("<translation><e0>Text</e0> mit <e1>Format</e1>, siehe <e2>https://t.me/x</e2> <e3>#news</e3></translation>")
        let fake = try FakeAnthropic(replies)
        let output = try await translator(fake).translate(source, to: de)
        #expect(output.content.text.hasPrefix("Text mit Format"))
        #expect(fake.server.requests.count == 3)
        #expect(output.usage.requests == 3)
    }

    @Test func cacheTokensAreCountedAndPricedByKind() async throws {
        let answer = "<translation>\n<e0>Text</e0> mit <e1>Format</e1>, siehe <e2>https://t.me/x</e2> <e3>#news</e3>\n</translation>"
        let fake = try FakeAnthropic([FakeAnthropic.message(answer, cacheWrite: 2000, cacheRead: 10_000)])
        let usage = try await translator(fake).translate(source, to: de).usage
        #expect(usage.cacheWriteTokens == 2000 && usage.cacheReadTokens == 10_000)
        // 321·0.10 + 45·0.50 + 2000·0.125 + 10000·0.01 = 404.6 µ$ (5-minute write 1.25×, read 0.1× of input).
        #expect(abs(usage.costUSD - 0.0004046) < 1e-12)
    }

    @Test func rejectedAnswerStillReportsWhatItCost() async throws {
        let fake = try FakeAnthropic([FakeAnthropic.message("Sure! <translation>x</translation>")])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake).translate(source, to: de) }
        #expect(error?.usage.inputTokens == 321 && error?.usage.outputTokens == 45 && error?.usage.requests == 1)
    }

    @Test func recorded400IsNotRetried() async throws {
        let replies = try FakeAnthropic.recorded("recorded_tool_use_200_then_400_invalid_request_error.json")
        let fake = try FakeAnthropic([replies[1]])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake).translate(source, to: de) }
        #expect(error?.kind == .rejected)
        #expect(error?.description.contains("HTTP 400 invalid_request_error") == true)
        #expect(fake.server.requests.count == 1)
    }

    @Test func overloadedIsRetriedUpToTheLimit() async throws {
        let overloaded = LocalHTTPServer.Reply.json(529, #"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#)
        let fake = try FakeAnthropic([overloaded, overloaded])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake, attempts: 2).translate(source, to: de) }
        #expect(error?.kind == .transient)
        #expect(error?.description.contains("529 overloaded_error") == true)
        #expect(fake.server.requests.count == 2)
        #expect(error?.usage.requests == 2)
    }

    @Test func badKeyStopsTheJobNamingTheVariableButNotTheKey() async throws {
        let fake = try FakeAnthropic([.json(401, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_1"}"#)])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake).translate(source, to: de) }
        #expect(error?.kind == .fatal)
        #expect(error?.description.contains("ANTHROPIC_API_KEY") == true)
        #expect(error?.description.contains("sk-ant-test-key-0001") == false)
    }

    @Test(arguments: [
        ("Sure! Here it is: <translation><e0>Text</e0> <e1>F</e1> <e2>https://t.me/x</e2> <e3>#news</e3></translation>", "outside"),
        ("<translation><e0>Text</e0> mit Format <e2>https://t.me/x</e2> <e3>#news</e3></translation>", "missing"),
        ("<translation><e0>Text</e0> <e1>F</e1> <e2>https://t.me/y</e2> <e3>#news</e3></translation>", "changed"),
        ("<translation><e0>Text</e0> <e1>F</e1> <e2>https://t.me/x</e2> <e3>#nachrichten</e3></translation>", "changed"),
        ("no block at all", "no <translation>"),
        ("<translation><e0>Text</e0> <e1>F</e1> <e2>https://t.me/x</e2> <e3>#news</e3> <b>x</b></translation>", "unknown tag"),
        ("<translation><e0>Text</e0> mit <e1>Format</e1>, siehe <e2>https://t.me/x</e2> <e3>#news</e3> <e0>Text</e0> mit <e1>Format</e1>, siehe <e2>https://t.me/x</e2> <e3>#news</e3></translation>", "appears 2 times"),
    ])
    func brokenAnswersAreRejectedNeverPublished(answer: String, reason: String) async throws {
        let fake = try FakeAnthropic([FakeAnthropic.message(answer)])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake).translate(source, to: de) }
        #expect(error?.kind == .rejected)
        #expect(error?.description.contains(reason) == true)
    }

    @Test func truncatedAnswerIsRejected() async throws {
        let fake = try FakeAnthropic([FakeAnthropic.message("<translation><e0>Text</e0> mit", stopReason: "max_tokens")])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake).translate(source, to: de) }
        #expect(error?.description.contains("max_tokens") == true)
    }

    @Test func garbageBodyIsTransient() async throws {
        let fake = try FakeAnthropic([.respond(status: 200, headers: [], body: Data("<html>bad gateway</html>".utf8))])
        let error = await #expect(throws: TranslationError.self) { try await translator(fake).translate(source, to: de) }
        #expect(error?.kind == .transient)
    }
}
