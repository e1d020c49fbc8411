import Dispatch
import Foundation

/// An HTTP request.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable { case GET, POST, PUT, DELETE }
    public var method: Method
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    /// Whole-request timeout.
    public var timeout: Duration
    public var connectTimeout: Duration

    public init(
        method: Method = .GET,
        url: String,
        headers: [(String, String)] = [],
        body: Data? = nil,
        timeout: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }

    /// A POST with a JSON body and the matching content type.
    public static func json<T: Encodable>(_ url: String, _ value: T, headers: [(String, String)] = [], timeout: Duration = .seconds(60)) throws -> HTTPRequest {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return HTTPRequest(
            method: .POST,
            url: url,
            headers: headers + [("content-type", "application/json")],
            body: try encoder.encode(value),
            timeout: timeout
        )
    }
}

/// An HTTP response: status, headers (names lower-cased) and the raw body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public subscript(header name: String) -> String? { headers[name.lowercased()] }

    /// Decodes the body as JSON.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: body)
    }
}

/// The ability to send an HTTP request; adapters depend on this, tests may substitute it.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// HTTP over libcurl. Each request uses its own easy handle on a thread of its own, so a slow transfer never
/// blocks Swift's cooperative pool and several requests can be in flight at once.
public struct HTTPClient: HTTPTransport {
    private let redactor: SecretRedactor

    public init(redactor: SecretRedactor = .shared) {
        self.redactor = redactor
        CurlGlobal.ensureInitialized()
    }

    /// Sends `request`; cancelling the calling task aborts the transfer within about a second (libcurl
    /// calls its progress callback at least once per second) and throws `CancellationError`.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let redactor = self.redactor
        let cancellation = TransferCancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // A thread of its own per transfer: dispatch's global queue widens only slowly past the core count
                // when its workers block, which would cap TRANSLATE_CONCURRENCY at two on a small dyno.
                let thread = Thread {
                    continuation.resume(with: Result {
                        let easy = try CurlEasy(redactor: redactor)
                        return try easy.perform(request, cancellation: cancellation)
                    })
                }
                thread.name = "http-transfer"
                thread.start()
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}

/// A transfer that did not produce an HTTP response.
///
/// The URL in ``description`` has its query string dropped and any Bot API token masked.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable { case timeout, connectionFailed, transferFailed, invalidRequest }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public static let timeout = Code(.timeout)
        /// Nothing of the request reached the server (no connection, or it timed out before a byte was sent).
        public static let connectionFailed = Code(.connectionFailed)
        public static let transferFailed = Code(.transferFailed)
        public static let invalidRequest = Code(.invalidRequest)
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The libcurl function and `CURLcode` that failed, for example `curl_easy_perform=28`.
    public var curlCall: String?
    public var message: String
    /// Method and redacted URL.
    public var target: String

    public var description: String {
        "http \(code) \(target): \(message)" + (curlCall.map { " (\($0))" } ?? "")
    }

    /// Whether retrying the same request may succeed.
    public var isTransient: Bool { code != .invalidRequest }

    /// `GET https://host/path` without query string or Bot API token.
    static func target(_ method: HTTPRequest.Method, _ url: String, redactor: SecretRedactor) -> String {
        var withoutQuery = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        // user:password@ in the authority is a credential too.
        if let scheme = withoutQuery.range(of: "://") {
            let authorityEnd = withoutQuery[scheme.upperBound...].firstIndex(of: "/") ?? withoutQuery.endIndex
            if let at = withoutQuery[scheme.upperBound..<authorityEnd].lastIndex(of: "@") {
                withoutQuery.removeSubrange(scheme.upperBound...at)
            }
        }
        return "\(method.rawValue) \(redactor.redact(withoutQuery))"
    }
}
