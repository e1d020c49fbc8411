import Foundation
import TestSupport

// A Messages API for benchmarks (scripts/bench-translation.sh): the "model" echoes every post back as its
// translation, and tokens are counted by one fixed rule for every client: ⌈UTF-8 bytes / 4⌉ of the system
// prompt plus the user message in, of the answer out. Prompt caching behaves as documented: a system block
// marked `cache_control` of at least FAKE_MIN_CACHE_TOKENS tokens (default 1024, the smallest minimum of
// current models) is written once, then read by later requests with the same prefix within 5 minutes.
// GET /stats returns the totals; POST /reset zeroes them.

func tokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

final class Ledger: @unchecked Sendable {
    let lock = NSLock()
    var requests = 0, input = 0, output = 0, cacheWrite = 0, cacheRead = 0
    var cache: [String: Date] = [:]
    let minimum = Int(ProcessInfo.processInfo.environment["FAKE_MIN_CACHE_TOKENS"] ?? "") ?? 1024

    func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Reply {
        switch (request.method, request.path) {
        case ("GET", "/stats"):
            let stats: [String: Int] = lock.withLock {
                ["requests": requests, "input_tokens": input, "output_tokens": output, "cache_write_tokens": cacheWrite, "cache_read_tokens": cacheRead]
            }
            return .respond(status: 200, headers: [("content-type", "application/json")], body: try! JSONSerialization.data(withJSONObject: stats))
        case ("POST", "/reset"):
            lock.withLock { requests = 0; input = 0; output = 0; cacheWrite = 0; cacheRead = 0; cache = [:] }
            return .json(200, "{}")
        case ("POST", "/v1/messages"):
            break
        default:
            return .json(404, #"{"type":"error","error":{"type":"not_found_error","message":"not here"}}"#)
        }
        guard let body = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
            let user = (body["messages"] as? [[String: Any]])?.first?["content"] as? String
        else { return .json(400, #"{"type":"error","error":{"type":"invalid_request_error","message":"messages: field required"}}"#) }
        let blocks = body["system"] as? [[String: Any]] ?? [["type": "text", "text": body["system"] as? String ?? ""]]
        let system = blocks.compactMap { $0["text"] as? String }.joined()
        let cacheable = blocks.contains { $0["cache_control"] != nil } && tokens(system) >= minimum
        let answer = FakeAnthropic.echo(user)
        var usage = (input: tokens(system) + tokens(user), write: 0, read: 0)
        lock.withLock {
            if cacheable {
                usage.input = tokens(user)
                if let last = cache[system], Date().timeIntervalSince(last) < 300 { usage.read = tokens(system) } else { usage.write = tokens(system) }
                cache[system] = Date()
            }
            requests += 1
            input += usage.input
            output += tokens(answer)
            cacheWrite += usage.write
            cacheRead += usage.read
        }
        let message: [String: Any] = [
            "id": "msg_bench", "type": "message", "role": "assistant", "model": body["model"] ?? "claude-haiku-5-5",
            "content": [["type": "text", "text": answer]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
            "usage": ["input_tokens": usage.input, "output_tokens": tokens(answer), "cache_creation_input_tokens": usage.write, "cache_read_input_tokens": usage.read],
        ]
        return .respond(status: 200, headers: [("content-type", "application/json")], body: try! JSONSerialization.data(withJSONObject: message))
    }
}

let ledger = Ledger()
let server = try LocalHTTPServer { ledger.handle($0) }
FileHandle.standardOutput.write(Data("url=\(server.baseURL)\n".utf8))
while true { sleep(3600) }
