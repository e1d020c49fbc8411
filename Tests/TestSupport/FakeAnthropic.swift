import Foundation

import Core

/// A fake Anthropic API on loopback: scripted Messages replies in the real wire format (or the recorded
/// captures in `../shared/fixtures/anthropic_api`), and a Message Batches API whose batches end when told to.
public final class FakeAnthropic: @unchecked Sendable {
    public private(set) var server: LocalHTTPServer!
    private let lock = NSLock()
    private var replies: [LocalHTTPServer.Reply]
    /// Answers a Messages request the script does not cover (e.g. inside batches): user message → answer text.
    private let model: (@Sendable (String) -> String)?
    private var batches: [String: (requests: [[String: Any]], ended: Bool)] = [:]

    public init(_ replies: [LocalHTTPServer.Reply] = [], model: (@Sendable (String) -> String)? = nil) throws {
        self.replies = replies
        self.model = model
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    deinit { server.stop() }

    public var settings: Config.AnthropicSettings {
        .init(apiKey: "sk-ant-test-key-0001", model: "claude-haiku-5-5", baseURL: server.baseURL, pricing: ModelPricing.defaults["claude-haiku-5-5"]!)
    }

    /// Messages requests received, as decoded JSON bodies.
    public var messageBodies: [[String: Any]] {
        server.requests.filter { $0.path == "/v1/messages" }.map { try! JSONSerialization.jsonObject(with: $0.body) as! [String: Any] }
    }

    /// The user message of each Messages request.
    public var userMessages: [String] {
        messageBodies.map { (($0["messages"] as! [[String: Any]])[0]["content"] as! String) }
    }

    public func endBatches() { lock.withLock { for id in batches.keys { batches[id]!.ended = true } } }

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Reply {
        if request.path.hasPrefix("/v1/messages/batches") { return batchReply(request) }
        if let scripted: LocalHTTPServer.Reply = lock.withLock({ replies.isEmpty ? nil : replies.removeFirst() }) { return scripted }
        guard let model, let body = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
            let user = (body["messages"] as? [[String: Any]])?.first?["content"] as? String
        else { return .json(500, #"{"type":"error","error":{"type":"api_error","message":"script exhausted"}}"#) }
        return Self.message(model(user))
    }

    private func batchReply(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Reply {
        let parts = request.path.split(separator: "/")  // v1 messages batches [id] [results]
        if request.method == "POST", parts.count == 3 {
            let body = try! JSONSerialization.jsonObject(with: request.body) as! [String: Any]
            let id = "msgbatch_\(lock.withLock { batches.count + 1 })"
            lock.withLock { batches[id] = (body["requests"] as! [[String: Any]], false) }
            return Self.json(["id": id, "type": "message_batch", "processing_status": "in_progress", "results_url": NSNull()])
        }
        guard parts.count >= 4, let batch = lock.withLock({ batches[String(parts[3])] }) else {
            return .json(404, #"{"type":"error","error":{"type":"not_found_error","message":"batch not found"}}"#)
        }
        let id = String(parts[3])
        if parts.count == 4 {
            return Self.json(["id": id, "type": "message_batch", "processing_status": batch.ended ? "ended" : "in_progress",
                              "results_url": batch.ended ? "\(server.baseURL)/v1/messages/batches/\(id)/results" : NSNull()])
        }
        // Results come back in any order: reversed here, so matching by custom_id is what makes them land.
        var lines: [String] = []
        for item in batch.requests.reversed() {
            let params = item["params"] as! [String: Any]
            let user = (params["messages"] as! [[String: Any]])[0]["content"] as! String
            let message = Self.messageBody(model?(user) ?? "", input: user.utf8.count / 4, output: user.utf8.count / 4)
            let line: [String: Any] = ["custom_id": item["custom_id"]!, "result": ["type": "succeeded", "message": message]]
            lines.append(String(decoding: try! JSONSerialization.data(withJSONObject: line), as: UTF8.self))
        }
        return .respond(status: 200, headers: [("content-type", "application/binary")], body: Data(lines.joined(separator: "\n").utf8))
    }

    static func json(_ object: [String: Any]) -> LocalHTTPServer.Reply {
        .respond(status: 200, headers: [("content-type", "application/json")], body: try! JSONSerialization.data(withJSONObject: object))
    }

    static func messageBody(_ text: String, stopReason: String = "end_turn", input: Int = 321, output: Int = 45, cacheWrite: Int = 0, cacheRead: Int = 0) -> [String: Any] {
        [
            "id": "msg_01Test", "type": "message", "role": "assistant", "model": "claude-haiku-5-5",
            "content": [["type": "text", "text": text]], "stop_reason": stopReason, "stop_sequence": NSNull(),
            "usage": ["input_tokens": input, "output_tokens": output, "cache_creation_input_tokens": cacheWrite, "cache_read_input_tokens": cacheRead],
        ]
    }

    /// A 200 Messages response whose text block is `text`.
    public static func message(_ text: String, stopReason: String = "end_turn", input: Int = 321, output: Int = 45, cacheWrite: Int = 0, cacheRead: Int = 0) -> LocalHTTPServer.Reply {
        let body = messageBody(text, stopReason: stopReason, input: input, output: output, cacheWrite: cacheWrite, cacheRead: cacheRead)
        return .respond(status: 200, headers: [("content-type", "application/json"), ("request-id", "req_01Test")], body: try! JSONSerialization.data(withJSONObject: body))
    }

    /// An error in Anthropic's shape.
    public static func error(_ status: Int, _ type: String, _ message: String, headers: [(String, String)] = []) -> LocalHTTPServer.Reply {
        .json(status, #"{"type":"error","error":{"type":"\#(type)","message":"\#(message)"},"request_id":"req_01Err"}"#, headers: headers)
    }

    /// The recorded exchanges of a capture file, as replies (bodies stored as strings, like the SSE stream,
    /// are sent as they are).
    public static func recorded(_ file: String) throws -> [LocalHTTPServer.Reply] {
        let exchanges = try JSONSerialization.jsonObject(with: Data(contentsOf: Paths.fixture("anthropic_api/\(file)"))) as! [[String: Any]]
        return try exchanges.map { exchange in
            let response = exchange["response"] as! [String: Any]
            let headers = (response["headers"] as! [String: String]).filter { $0.key != "content-length" && $0.key != "connection" && $0.key != "content-encoding" }.map { ($0.key, $0.value) }
            let body = response["body"]!
            let data = try (body as? String).map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: body)
            return .respond(status: response["status_code"] as! Int, headers: headers, body: data)
        }
    }

    /// The model that translates by echoing: every post of the request back as its translation, unchanged.
    public static func echo(_ user: String) -> String {
        var answer = ""
        var rest = Substring(user)
        while let open = rest.range(of: "<post id=\""), let close = rest.range(of: "\n</post>", range: open.upperBound..<rest.endIndex) {
            let header = rest[open.upperBound...].prefix { $0 != "\"" }
            let bodyStart = rest.index(rest[open.upperBound...].firstIndex(of: ">")!, offsetBy: 2)
            answer += "<translation id=\"\(header)\">\n\(rest[bodyStart..<close.lowerBound])\n</translation>\n"
            rest = rest[close.upperBound...]
        }
        return answer
    }
}
