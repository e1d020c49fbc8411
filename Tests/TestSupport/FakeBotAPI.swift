import Foundation

/// A Bot API server on loopback that answers like Telegram and records every call.
///
/// It keeps each chat's messages, enforces the limits Telegram enforces (text 1–4096 and captions 0–1024
/// UTF-16 code units after entity parsing, entities inside the text, albums of 2–10 items, uploads present)
/// with Telegram's own error bodies, and plays scripted failures (a 429 with `retry_after`, a 5xx, a dropped
/// connection) in order before the normal answer.
public final class FakeBotAPI: @unchecked Sendable {
    public struct Call: @unchecked Sendable {
        public var method: String
        /// JSON body fields, or the form fields of a multipart upload (objects decoded from their JSON text).
        public var parameters: [String: Any]
        /// Upload part names and their sizes.
        public var files: [String: Int]
        public var at: Date
    }

    public struct Message: @unchecked Sendable {
        public var id: Int64
        public var text: String
        public var entities: [[String: Any]]
        public var kind: String
        public var replyTo: Int64?
        public var albumID: String?
    }

    public enum Scripted: Sendable {
        case reply(status: Int, body: String)
        case drop
    }

    public let token: String
    public let chat: String
    private let lock = NSLock()
    private var calls: [Call] = []
    private var messages: [Message] = []
    private var script: [(method: String?, call: Int?, reply: Scripted)] = []
    private var nextID: Int64 = 100
    private var server: LocalHTTPServer!
    /// Updates waiting in the bot's queue, answered to `getUpdates` by offset as Telegram does.
    private var updates: [[String: Any]] = []
    /// The source channel `getChat` resolves `@name` to.
    public var knownChats: [String: Int64] = [:]
    /// The bot's status in chats other than its channel (where it is an admin allowed to post).
    public var memberships: [String: (status: String, canPost: Bool)] = [:]
    /// A webhook URL makes `getUpdates` unusable, as on Telegram.
    public var webhookURL = ""
    /// Share of send calls that fail the ways Telegram and its gateways fail (see ``Chaos``), from a seeded generator.
    private var chaos: (rate: Double, rng: SeededGenerator)?
    /// Sends that failed after the message was posted (a dropped answer, a gateway 5xx, a garbled body).
    public private(set) var postedButFailed = 0

    /// Makes `rate` of the send calls fail: a 429 with retry_after 1, a 500, a dropped connection or a garbled
    /// 200, each equally likely; the 500 and the drop come after the message was posted half the time, the
    /// garbled body always (as when a gateway breaks the answer), so the sender cannot tell.
    public func enableChaos(rate: Double, seed: UInt64) {
        lock.withLock { chaos = (rate, SeededGenerator(seed: seed)) }
    }

    public var baseURL: String { server.baseURL }
    public var recordedCalls: [Call] { lock.withLock { calls } }
    public var channelMessages: [Message] { lock.withLock { messages } }

    public init(token: String = "123456789:AAHfakeTokenForTestsOnly0123456789ab", chat: String = "@mirror_dst") throws {
        self.token = token
        self.chat = chat
        server = try LocalHTTPServer { [unowned self] request in self.handle(request) }
    }

    deinit { server.stop() }

    /// The next call (of `method`, or any) gets `reply` instead of its answer.
    public func script(_ reply: Scripted, for method: String? = nil) {
        lock.withLock { script.append((method, nil, reply)) }
    }

    /// Puts the `result` updates of a recorded `getUpdates` body into the bot's queue.
    public func enqueueUpdates(fromResponse body: Data) {
        let root = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        lock.withLock { updates += root?["result"] as? [[String: Any]] ?? [] }
    }

    /// Puts one update into the bot's queue.
    public func enqueueUpdate(_ update: [String: Any]) {
        lock.withLock { updates.append(update) }
    }

    /// Call number `call` (1-based, counting every call) gets `reply`.
    public func script(_ reply: Scripted, atCall call: Int) {
        lock.withLock { script.append((nil, call, reply)) }
    }

    // MARK: - Handling

    private func handle(_ request: LocalHTTPServer.Request) -> LocalHTTPServer.Reply {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0] == "bot\(token)" else {
            return .json(401, #"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)
        }
        let method = String(parts[1])
        let (parameters, files) = Self.parse(request)
        let scripted: Scripted? = lock.withLock {
            calls.append(Call(method: method, parameters: parameters, files: files, at: Date()))
            let number = calls.count
            guard let index = script.firstIndex(where: { entry in
                if let call = entry.call { return call == number }
                return entry.method == nil || entry.method == method
            }) else { return nil }
            return script.remove(at: index).reply
        }
        switch scripted {
        case .reply(let status, let body)?: return .json(status, body)
        case .drop?: return .drop
        case nil: break
        }
        return lock.withLock {
            guard method.hasPrefix("send"), var (rate, rng) = chaos else { return answer(method, parameters, files) }
            let fails = Double.random(in: 0..<1, using: &rng) < rate
            let kind = Int.random(in: 0..<4, using: &rng)
            let posted = kind == 3 || (kind != 0 && Bool.random(using: &rng))
            chaos = (rate, rng)
            guard fails else { return answer(method, parameters, files) }
            if posted {
                _ = answer(method, parameters, files)
                postedButFailed += 1
            }
            switch kind {
            case 0: return .json(429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#)
            case 1: return .json(500, #"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#)
            case 2: return .drop
            default: return .respond(status: 200, headers: [("content-type", "text/html")], body: Data("<html>cut".utf8))
            }
        }
    }

    private func error(_ code: Int, _ description: String) -> LocalHTTPServer.Reply {
        let body = try! JSONSerialization.data(withJSONObject: ["ok": false, "error_code": code, "description": description])
        return .respond(status: code, headers: [("content-type", "application/json")], body: body)
    }

    private func ok(_ result: Any) -> LocalHTTPServer.Reply {
        let body = try! JSONSerialization.data(withJSONObject: ["ok": true, "result": result])
        return .respond(status: 200, headers: [("content-type", "application/json")], body: body)
    }

    private func answer(_ method: String, _ p: [String: Any], _ files: [String: Int]) -> LocalHTTPServer.Reply {
        if method == "getMe" {
            return ok(["id": Int(token.split(separator: ":")[0])!, "is_bot": true, "first_name": "Mirror", "username": "mirror_test_bot"])
        }
        if method == "getUpdates" {
            // Asking with an offset confirms, and forgets, every update below it.
            let offset = (p["offset"] as? NSNumber)?.int64Value ?? 0
            updates.removeAll { (($0["update_id"] as? NSNumber)?.int64Value ?? 0) < offset }
            let limit = (p["limit"] as? NSNumber)?.intValue ?? 100
            return ok(Array(updates.prefix(limit)))
        }
        if method == "getWebhookInfo" { return ok(["url": webhookURL, "pending_update_count": updates.count]) }
        if method == "getChatMember", let chat = p["chat_id"].map({ "\($0)" }) {
            let (status, canPost) = memberships[chat] ?? (chat == self.chat ? ("administrator", true) : ("left", false))
            return ok(["status": status, "can_post_messages": canPost, "user": ["id": 123456789, "is_bot": true, "first_name": "Mirror"]])
        }
        if method == "getChat", let name = p["chat_id"] as? String, let id = knownChats[name.lowercased()] {
            return ok(["id": id, "type": "channel", "title": "Source"])
        }
        guard let chatID = p["chat_id"].map({ "\($0)" }), chatID == chat else { return error(400, "Bad Request: chat not found") }
        let replyTo = ((p["reply_parameters"] as? [String: Any])?["message_id"] as? NSNumber)?.int64Value
        switch method {
        case "sendMessage":
            let text = p["text"] as? String ?? ""
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return error(400, "Bad Request: message text is empty") }
            if text.utf16.count > 4096 { return error(400, "Bad Request: message is too long") }
            let entities = p["entities"] as? [[String: Any]] ?? []
            if let problem = Self.entityProblem(entities, in: text) { return error(400, "Bad Request: can't parse entities: \(problem)") }
            return ok(store(text: text, entities: entities, kind: "text", replyTo: replyTo))
        case "sendPhoto", "sendVideo", "sendAnimation", "sendAudio", "sendVoice", "sendDocument", "sendVideoNote", "sendSticker":
            let field = ["sendPhoto": "photo", "sendVideo": "video", "sendAnimation": "animation", "sendAudio": "audio", "sendVoice": "voice",
                         "sendDocument": "document", "sendVideoNote": "video_note", "sendSticker": "sticker"][method]!
            guard files[field] != nil || p[field] is String else { return error(400, "Bad Request: there is no \(field) in the request") }
            let caption = p["caption"] as? String ?? ""
            if caption.utf16.count > 1024 { return error(400, "Bad Request: message caption is too long") }
            let entities = p["caption_entities"] as? [[String: Any]] ?? []
            if let problem = Self.entityProblem(entities, in: caption) { return error(400, "Bad Request: can't parse entities: \(problem)") }
            return ok(store(text: caption, entities: entities, kind: field, replyTo: replyTo))
        case "sendMediaGroup":
            guard let media = p["media"] as? [[String: Any]], (2...10).contains(media.count) else {
                return error(400, "Bad Request: wrong number of messages in the media group")
            }
            for item in media {
                let caption = item["caption"] as? String ?? ""
                if caption.utf16.count > 1024 { return error(400, "Bad Request: message caption is too long") }
                if let problem = Self.entityProblem(item["caption_entities"] as? [[String: Any]] ?? [], in: caption) {
                    return error(400, "Bad Request: can't parse entities: \(problem)")
                }
                if let ref = item["media"] as? String, ref.hasPrefix("attach://"), files[String(ref.dropFirst(9))] == nil {
                    return error(400, "Bad Request: file must be non-empty")
                }
            }
            let album = "album-\(nextID)"
            return ok(media.map { item in
                store(text: item["caption"] as? String ?? "", entities: item["caption_entities"] as? [[String: Any]] ?? [],
                      kind: item["type"] as? String ?? "?", replyTo: nil, albumID: album)
            })
        case "editMessageText", "editMessageCaption":
            let id = (p["message_id"] as? NSNumber)?.int64Value ?? 0
            guard let index = messages.firstIndex(where: { $0.id == id }) else { return error(400, "Bad Request: message to edit not found") }
            let isText = method == "editMessageText"
            let text = p[isText ? "text" : "caption"] as? String ?? ""
            let entities = p[isText ? "entities" : "caption_entities"] as? [[String: Any]] ?? []
            if text.utf16.count > (isText ? 4096 : 1024) { return error(400, isText ? "Bad Request: message is too long" : "Bad Request: message caption is too long") }
            if let problem = Self.entityProblem(entities, in: text) { return error(400, "Bad Request: can't parse entities: \(problem)") }
            let before = messages[index]
            if before.text == text && NSArray(array: before.entities).isEqual(to: entities) {
                return error(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
            }
            messages[index].text = text
            messages[index].entities = entities
            return ok(["message_id": id, "date": Int(Date().timeIntervalSince1970), "edit_date": Int(Date().timeIntervalSince1970)])
        case "deleteMessage":
            let id = (p["message_id"] as? NSNumber)?.int64Value ?? 0
            guard let index = messages.firstIndex(where: { $0.id == id }) else { return error(400, "Bad Request: message to delete not found") }
            messages.remove(at: index)
            return ok(true)
        default:
            return error(404, "Not Found: method not found")
        }
    }

    private func store(text: String, entities: [[String: Any]], kind: String, replyTo: Int64?, albumID: String? = nil) -> [String: Any] {
        nextID += 1
        messages.append(Message(id: nextID, text: text, entities: entities, kind: kind, replyTo: replyTo, albumID: albumID))
        return ["message_id": nextID, "date": Int(Date().timeIntervalSince1970), "chat": ["id": -1_001_000_000_001, "type": "channel", "title": "Mirror"]]
    }

    /// What Telegram objects to in an entity list: a range outside the text, an empty entity, a split surrogate pair.
    static func entityProblem(_ entities: [[String: Any]], in text: String) -> String? {
        let units = Array(text.utf16)
        for entity in entities {
            guard let offset = (entity["offset"] as? NSNumber)?.intValue, let length = (entity["length"] as? NSNumber)?.intValue else {
                return "entity without offset or length"
            }
            if length <= 0 || offset < 0 || offset + length > units.count { return "entity \(offset)+\(length) is outside the text" }
            if offset > 0, UTF16.isTrailSurrogate(units[offset]) { return "entity starts inside a character" }
            if offset + length < units.count, UTF16.isTrailSurrogate(units[offset + length]) { return "entity ends inside a character" }
        }
        return nil
    }

    /// JSON bodies, or multipart forms (fields that hold JSON arrays or objects are decoded).
    static func parse(_ request: LocalHTTPServer.Request) -> ([String: Any], [String: Int]) {
        let type = request.headers["content-type"] ?? ""
        if type.hasPrefix("application/json") {
            return ((try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] ?? [:], [:])
        }
        guard let boundaryRange = type.range(of: "boundary=") else { return ([:], [:]) }
        let boundary = Data(("--" + type[boundaryRange.upperBound...]).utf8)
        var fields: [String: Any] = [:]
        var files: [String: Int] = [:]
        var rest = request.body[...]
        while let start = rest.range(of: boundary) {
            rest = rest[start.upperBound...]
            guard let headerEnd = rest.range(of: Data("\r\n\r\n".utf8)), let next = rest.range(of: boundary) else { break }
            let headers = String(decoding: rest[rest.startIndex..<headerEnd.lowerBound], as: UTF8.self)
            let content = rest[headerEnd.upperBound..<(next.lowerBound - 2)]
            let name = headers.components(separatedBy: "name=\"").dropFirst().first?.components(separatedBy: "\"").first ?? ""
            if headers.contains("filename=") {
                files[name] = content.count
            } else {
                let text = String(decoding: content, as: UTF8.self)
                if text.hasPrefix("[") || text.hasPrefix("{"), let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) {
                    fields[name] = json
                } else {
                    fields[name] = text
                }
            }
            rest = rest[next.lowerBound...]
        }
        return (fields, files)
    }
}

/// A small deterministic generator (SplitMix64), so a failing chaos run can be replayed with its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
