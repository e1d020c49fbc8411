internal import CCurl
import Foundation
import Synchronization

/// `curl_global_init` must run once before any easy handle, and is not thread-safe itself.
enum CurlGlobal {
    private static let initialized = Mutex(false)
    static func ensureInitialized() {
        initialized.withLock { done in
            guard !done else { return }
            curl_global_init(Int(CURL_GLOBAL_DEFAULT))
            done = true
        }
    }
}

/// Accumulates what libcurl hands to the write and header callbacks, and tells the progress callback
/// whether the caller gave up.
private final class TransferBuffer {
    var body = Data()
    var headerLines: [String] = []
    let cancellation: TransferCancellation
    init(cancellation: TransferCancellation) { self.cancellation = cancellation }
}

/// Set when the awaiting task is cancelled; libcurl's progress callback then aborts the transfer.
final class TransferCancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .releasing) }
    var isCancelled: Bool { flag.load(ordering: .acquiring) }
}

/// One libcurl easy handle: its only owner, freed in `deinit`.
final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    private let redactor: SecretRedactor

    init(redactor: SecretRedactor) throws {
        guard let handle = curl_easy_init() else {
            throw HTTPError(code: .transferFailed, curlCall: "curl_easy_init", message: "libcurl could not allocate a handle", target: "-")
        }
        self.handle = handle
        self.redactor = redactor
    }

    deinit { curl_easy_cleanup(handle) }

    func perform(_ request: HTTPRequest, cancellation: TransferCancellation = TransferCancellation()) throws -> HTTPResponse {
        let target = HTTPError.target(request.method, request.url, redactor: redactor)
        func check(_ code: CURLcode, _ what: String) throws {
            guard code != CURLE_OK else { return }
            throw HTTPError(code: .invalidRequest, curlCall: "\(what)=\(code.rawValue)", message: String(cString: curl_easy_strerror(code)), target: target)
        }

        try check(ccurl_setopt_string(handle, CURLOPT_URL, request.url), "CURLOPT_URL")
        try check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeout.milliseconds), "CURLOPT_TIMEOUT_MS")
        try check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.milliseconds), "CURLOPT_CONNECTTIMEOUT_MS")
        try check(ccurl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""), "CURLOPT_ACCEPT_ENCODING")
        // Only http and https: a URL from config must not be able to read local files.
        try check(ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR")

        switch request.method {
        case .GET: break
        case .POST: try check(ccurl_setopt_long(handle, CURLOPT_POST, 1), "CURLOPT_POST")
        case .PUT, .DELETE: try check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method.rawValue), "CURLOPT_CUSTOMREQUEST")
        }

        let headers = CurlHeaderList(request.headers.map { "\($0.0): \($0.1)" } + ["Expect:"])
        try check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers.pointer), "CURLOPT_HTTPHEADER")

        // The body must stay alive and unmoved until perform returns; COPYPOSTFIELDS copies it into curl.
        let body = request.body ?? Data()
        if request.method != .GET {
            try check(ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count), "CURLOPT_POSTFIELDSIZE")
            try body.withUnsafeBytes { raw in
                let base = raw.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } ?? UnsafeMutableRawPointer(mutating: ("" as StaticString).utf8Start)
                try check(ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, base), "CURLOPT_COPYPOSTFIELDS")
            }
        }

        let buffer = TransferBuffer(cancellation: cancellation)
        let userdata = Unmanaged.passUnretained(buffer).toOpaque()
        try check(ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0), "CURLOPT_NOPROGRESS")
        try check(ccurl_setopt_xferinfo_function(handle, { userdata, _, _, _, _ in
            Unmanaged<TransferBuffer>.fromOpaque(userdata!).takeUnretainedValue().cancellation.isCancelled ? 1 : 0
        }), "CURLOPT_XFERINFOFUNCTION")
        try check(ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, userdata), "CURLOPT_XFERINFODATA")
        try check(ccurl_setopt_write_function(handle, CURLOPT_WRITEFUNCTION, { data, size, count, userdata in
            let buffer = Unmanaged<TransferBuffer>.fromOpaque(userdata!).takeUnretainedValue()
            let n = size * count
            if let data { buffer.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: n) }
            return n
        }), "CURLOPT_WRITEFUNCTION")
        try check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, userdata), "CURLOPT_WRITEDATA")
        try check(ccurl_setopt_write_function(handle, CURLOPT_HEADERFUNCTION, { data, size, count, userdata in
            let buffer = Unmanaged<TransferBuffer>.fromOpaque(userdata!).takeUnretainedValue()
            let n = size * count
            if let data {
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
                buffer.headerLines.append(line)
            }
            return n
        }), "CURLOPT_HEADERFUNCTION")
        try check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, userdata), "CURLOPT_HEADERDATA")

        let code = withExtendedLifetime(buffer) { curl_easy_perform(handle) }
        withExtendedLifetime(headers) {}
        guard code == CURLE_OK else {
            if code == CURLE_ABORTED_BY_CALLBACK { throw CancellationError() }
            let kind: HTTPError.Code
            // Bytes of the request that went out: none means the server cannot have acted on it, whatever failed.
            var requestBytes = 0
            _ = ccurl_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &requestBytes)
            switch code {
            case CURLE_OPERATION_TIMEDOUT: kind = requestBytes == 0 ? .connectionFailed : .timeout
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR: kind = .connectionFailed
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: kind = .invalidRequest
            default: kind = .transferFailed
            }
            throw HTTPError(code: kind, curlCall: "curl_easy_perform=\(code.rawValue)", message: String(cString: curl_easy_strerror(code)), target: target)
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: Self.parseHeaders(buffer.headerLines), body: buffer.body)
    }

    /// Headers of the final response only (a redirect or `100 Continue` starts a new block).
    static func parseHeaders(_ lines: [String]) -> [String: String] {
        var headers: [String: String] = [:]
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("HTTP/") {
                headers = [:]
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        return headers
    }
}

@available(*, unavailable)
extension CurlEasy: Sendable {}

/// A `curl_slist` of request headers, freed in `deinit`.
private final class CurlHeaderList {
    private(set) var pointer: UnsafeMutablePointer<curl_slist>?
    init(_ lines: [String]) {
        for line in lines { pointer = curl_slist_append(pointer, line) }
    }
    deinit { curl_slist_free_all(pointer) }
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
