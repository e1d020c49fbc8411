import Foundation

/// Telegram's answer could not be read (a cut-off body) or was a server error (5xx, possibly from a gateway
/// after Telegram carried the call out): whether the call took effect is unknown.
public struct BotAPIUnreadableResponse: Error, CustomStringConvertible, Sendable {
    public var method: String
    public var status: Int
    public var description: String {
        (500...599).contains(status)
            ? "Bot API \(method) answered HTTP \(status) (a server error after which the call may or may not have been carried out)"
            : "Bot API \(method) answered HTTP \(status) with a body that is not a Bot API response"
    }
}

/// A file sent with a call as `attach://name`.
public struct BotAPIUpload: Sendable {
    public var name: String
    public var fileName: String
    public var url: URL
    public init(name: String, fileName: String, url: URL) {
        self.name = name
        self.fileName = fileName
        self.url = url
    }
}

/// Calls Bot API methods: JSON bodies, or multipart forms when files are uploaded.
///
/// The token sits in the URL path; ``HTTPError`` and the logger mask it.
public struct BotAPIClient: Sendable {
    public let baseURL: String
    let token: String
    let http: any HTTPTransport

    public init(settings: Config.TelegramSettings, http: any HTTPTransport) {
        self.baseURL = settings.apiURL
        self.token = settings.botToken
        self.http = http
        SecretRedactor.shared.register(settings.botToken)
    }

    /// Calls `method` and returns the whole response body when Telegram answered `ok: true`.
    public func raw(_ method: String, _ parameters: [String: JSONValue], timeout: Duration = .seconds(60)) async throws -> Data {
        let response = try await http.send(try .json("\(baseURL)/bot\(token)/\(method)", JSONValue.object(parameters), timeout: timeout))
        if let error = BotAPIError.decode(response.body) { throw error }
        guard response.status == 200 else { throw BotAPIError(code: response.status, description: "HTTP \(response.status) without a Bot API body") }
        return response.body
    }

    /// Calls `method` and decodes its `result`.
    ///
    /// - Throws: ``BotAPIError`` when Telegram refused the call, ``BotAPIUnreadableResponse`` when its answer
    ///   cannot be read, ``HTTPError`` when no answer came.
    public func call<Result: Decodable>(
        _ method: String, _ parameters: [String: JSONValue], uploads: [BotAPIUpload] = [], timeout: Duration = .seconds(60),
        as: Result.Type = Result.self
    ) async throws -> Result {
        let url = "\(baseURL)/bot\(token)/\(method)"
        let request: HTTPRequest
        if uploads.isEmpty {
            request = try .json(url, JSONValue.object(parameters), timeout: timeout)
        } else {
            let form = try MultipartForm(fields: parameters, uploads: uploads)
            request = HTTPRequest(method: .POST, url: url, headers: [("content-type", form.contentType)], body: form.body, timeout: timeout)
        }
        let response = try await http.send(request)
        if response.status == 200, let envelope = try? JSONDecoder().decode(BotAPIEnvelope<Result>.self, from: response.body), envelope.ok,
            let result = envelope.result {
            return result
        }
        if let error = BotAPIError.decode(response.body), !(500...599).contains(error.code) { throw error }
        // A 4xx that is not Bot API JSON comes from something else at that URL, which did not pass the call on.
        if (400...499).contains(response.status), BotAPIError.decode(response.body) == nil {
            throw BotAPIError(code: response.status, description: "HTTP \(response.status) that is not a Bot API answer; check TELEGRAM_API_URL")
        }
        // A 5xx (from Telegram or a gateway in front of it) or an unreadable 2xx may follow a call that was carried
        // out: its outcome is unknown.
        throw BotAPIUnreadableResponse(method: method, status: response.status)
    }
}

/// `{"ok": true, "result": …}`.
private struct BotAPIEnvelope<Result: Decodable>: Decodable {
    var ok: Bool
    var result: Result?
}

/// A `multipart/form-data` body: each parameter a field (objects as JSON text), each upload a file part.
struct MultipartForm {
    let boundary: String
    let body: Data
    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    struct UnreadableFile: Error, CustomStringConvertible {
        let path: String
        var description: String { "cannot read \(path) to upload it" }
    }

    init(fields: [String: JSONValue], uploads: [BotAPIUpload]) throws {
        let boundary = "mirror-" + UUID().uuidString
        var form = Data()
        func part(_ headers: String, _ content: Data) {
            form.append(Data("--\(boundary)\r\n\(headers)\r\n\r\n".utf8))
            form.append(content)
            form.append(Data("\r\n".utf8))
        }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            part("Content-Disposition: form-data; name=\"\(name)\"", Data(value.formText.utf8))
        }
        for upload in uploads {
            guard let data = FileManager.default.contents(atPath: upload.url.path) else { throw UnreadableFile(path: upload.url.path) }
            // Quotes and line breaks in a file name would break the header; Telegram only shows the name.
            let safeName = String(upload.fileName.map { "\"\r\n\\".contains($0) ? "_" : $0 })
            part("Content-Disposition: form-data; name=\"\(upload.name)\"; filename=\"\(safeName)\"\r\nContent-Type: application/octet-stream", data)
        }
        form.append(Data("--\(boundary)--\r\n".utf8))
        self.boundary = boundary
        self.body = form
    }
}
