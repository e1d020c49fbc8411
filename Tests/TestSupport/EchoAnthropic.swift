import Foundation

/// A Messages API on loopback whose "model" returns the post unchanged, tags and all, in the answer format
/// the Claude translator asks for, with real usage figures; optionally a share of requests fails the ways the
/// API fails (429 with retry-after, 529 overloaded, 500, a dropped connection, a garbled 200).
public final class EchoAnthropic: @unchecked Sendable {
    private let lock = NSLock()
    private var rng: SeededGenerator
    private var failureRate: Double
    private var server: LocalHTTPServer!
    public private(set) var requests = 0
    public private(set) var failures = 0
    public var baseURL: String { server.baseURL }

    public init(failureRate: Double = 0, seed: UInt64 = 1) throws {
        self.failureRate = failureRate
        self.rng = SeededGenerator(seed: seed)
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    deinit { server.stop() }

    public func setFailureRate(_ rate: Double) { lock.withLock { failureRate = rate } }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Reply {
        let failure: Int? = lock.withLock {
            requests += 1
            guard Double.random(in: 0..<1, using: &rng) < failureRate else { return nil }
            failures += 1
            return Int.random(in: 0..<5, using: &rng)
        }
        switch failure {
        case 0?: return .json(429, #"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#, headers: [("retry-after", "1")])
        case 1?: return .json(529, #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
        case 2?: return .json(500, #"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#)
        case 3?: return .drop
        case 4?: return .respond(status: 200, headers: [("content-type", "application/json")], body: Data(#"{"id":"msg_01","type":"mess"#.utf8))
        default: break
        }
        guard let body = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
            let content = (body["messages"] as? [[String: Any]])?.first?["content"] as? String
        else { return .json(400, #"{"type":"error","error":{"type":"invalid_request_error","message":"messages: field required"}}"#) }
        let text = FakeAnthropic.echo(content)
        let system = (body["system"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined() ?? ""
        let answer: [String: Any] = [
            "id": "msg_01Echo", "type": "message", "role": "assistant", "model": body["model"] ?? "claude-haiku-5-5",
            "content": [["type": "text", "text": text]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
            "usage": ["input_tokens": (system.utf8.count + content.utf8.count) / 4, "output_tokens": text.utf8.count / 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0],
        ]
        return .respond(status: 200, headers: [("content-type", "application/json")], body: try! JSONSerialization.data(withJSONObject: answer))
    }
}
