import Foundation

/// What a language model answered to one prompt.
public struct ModelReply: Sendable {
    public enum Stop: Sendable, Equatable {
        /// The model finished its answer (`end_turn`, `stop`).
        case complete
        /// The answer hit the output limit (`max_tokens`, `length`) and is cut off.
        case truncated
        /// Anything else (`refusal`, `tool_use`, `content_filter`…): not a translation to trust.
        case other(String)
    }
    public var text: String
    public var stop: Stop
    public var usage: TokenUsage
    public init(text: String, stop: Stop, usage: TokenUsage) {
        self.text = text
        self.stop = stop
        self.usage = usage
    }
}

/// One chat-style model endpoint: a system prompt and a user message in, the answer out.
///
/// Implementations retry what the API says may succeed later (see ``APIRetryPolicy``) and throw a
/// ``TranslationError`` for the rest: `.fatal` for configuration (a bad key), `.rejected` for a request the
/// API refuses, `.transient` when retries ran out.
public protocol ModelBackend: Sendable {
    /// `claude:claude-haiku-5-5`, `openai:qwen2.5-7b-instruct`.
    var name: String { get }
    func complete(system: String, user: String, maxTokens: Int, cacheSystemPrompt: Bool) async throws -> ModelReply
}

/// The end of the current job's run (`--max-runtime`); retries never wait past it.
public enum RequestDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?
}

/// Retries as the official Anthropic SDK does, bounded by the run's deadline: `x-should-retry` decides when
/// present; otherwise 408, 409, 429, 5xx (529 included), timeouts and dropped connections are retried, with
/// `retry-after-ms`/`retry-after` honoured and exponential backoff with jitter.
public struct APIRetryPolicy: Sendable {
    public var maxAttempts: Int
    /// Longest single wait accepted (a longer `retry-after` ends this run's attempts for the request).
    public var maxWait: Duration
    public var baseDelay: Duration

    public init(maxAttempts: Int = 4, maxWait: Duration = .seconds(60), baseDelay: Duration = .milliseconds(500)) {
        self.maxAttempts = max(1, maxAttempts)
        self.maxWait = maxWait
        self.baseDelay = baseDelay
    }

    /// What the caller decides about a non-2xx response.
    public enum Verdict: Sendable {
        case retry
        case fail(TranslationError)
    }

    /// Sends `request` until it succeeds, the verdict says stop, or attempts or time run out.
    ///
    /// - Parameter classify: the error for a non-retryable status (401 fatal, 400 rejected…).
    /// - Returns: the 2xx response and the number of requests made. A thrown ``TranslationError`` carries the
    ///   request count in its usage.
    /// - Parameter unreachable: what to check when the server could not be reached at all, added to the error.
    /// - Parameter idempotent: `false` for a request that must not be made twice (creating a batch): then
    ///   only answers that mean it was not processed (429, 529) and connections that never reached the server
    ///   are retried, and a timeout or 5xx ends the attempts.
    public func send(
        _ request: HTTPRequest, over http: any HTTPTransport, logger: Logger, service: String, idempotent: Bool = true,
        unreachable: String? = nil, classify: (HTTPResponse) -> TranslationError
    ) async throws -> (HTTPResponse, Int) {
        var attempt = 0
        while true {
            attempt += 1
            let wait: Duration
            let failure: String
            var hint = ""
            do {
                let response = try await http.send(request)
                if (200..<300).contains(response.status) { return (response, attempt) }
                let shouldRetry = response[header: "x-should-retry"]
                let retryable = idempotent
                    ? shouldRetry == "true" || (shouldRetry != "false" && Self.retryableStatuses(response.status))
                    : response.status == 429 || response.status == 529
                guard retryable else {
                    var error = classify(response)
                    error.usage.requests = attempt
                    throw error
                }
                failure = "HTTP \(response.status)\(Self.errorType(response).map { " \($0)" } ?? "")"
                wait = Self.retryAfter(response) ?? backoff(attempt: attempt)
                logger.warning("\(service) request failed; retrying", [
                    "status": response.status, "attempt": attempt, "request_id": response[header: "request-id"] ?? response[header: "x-request-id"] ?? "-",
                ])
            } catch let error as HTTPError {
                guard error.isTransient else { throw TranslationError(.rejected, error.description, usage: TokenUsage(requests: attempt)) }
                guard idempotent || error.code == .connectionFailed else {
                    throw TranslationError(.transient, "\(error.description); not repeated, as it may have been processed", usage: TokenUsage(requests: attempt))
                }
                failure = error.description
                if error.code == .connectionFailed, let unreachable { hint = "; \(unreachable)" }
                wait = backoff(attempt: attempt)
                logger.warning("\(service) request failed; retrying", ["error": error, "attempt": attempt])
            }
            guard attempt < maxAttempts else {
                throw TranslationError(.transient, "\(failure) after \(attempt) attempt\(attempt == 1 ? "" : "s")\(hint)", usage: TokenUsage(requests: attempt))
            }
            guard wait <= maxWait else {
                throw TranslationError(.transient, "\(failure); asked to wait \(wait), longer than \(maxWait)", usage: TokenUsage(requests: attempt))
            }
            if let deadline = RequestDeadline.current, ContinuousClock.now + wait > deadline {
                throw TranslationError(.transient, "\(failure); a retry would pass the run's deadline", usage: TokenUsage(requests: attempt))
            }
            try await Task.sleep(for: wait)
        }
    }

    static func retryableStatuses(_ status: Int) -> Bool {
        status == 408 || status == 409 || status == 429 || status >= 500
    }

    /// `retry-after-ms`, else `retry-after` in seconds (or an HTTP date).
    static func retryAfter(_ response: HTTPResponse) -> Duration? {
        if let ms = response[header: "retry-after-ms"].flatMap(Double.init), ms >= 0, ms.isFinite { return .milliseconds(Int(ms)) }
        guard let raw = response[header: "retry-after"] else { return nil }
        if let s = Double(raw), s >= 0, s.isFinite { return .milliseconds(Int(min(s, 86_400) * 1000)) }
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let date = format.date(from: raw) { return .milliseconds(Int(max(0, date.timeIntervalSinceNow) * 1000)) }
        return nil
    }

    /// `min(base · 2^(n-1), 8 s)` reduced by up to 25 % jitter, as the official SDK does.
    func backoff(attempt: Int) -> Duration {
        let base = min(Double(baseDelay.components.attoseconds) / 1e18 + Double(baseDelay.components.seconds), 8.0)
        let seconds = min(base * pow(2.0, Double(attempt - 1)), 8.0)
        return .milliseconds(Int(seconds * (1 - 0.25 * Double.random(in: 0...1)) * 1000))
    }

    /// `error.type` and `error.message` of an Anthropic- or OpenAI-style error body.
    static func errorType(_ response: HTTPResponse) -> String? {
        guard let body = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let error = body["error"] as? [String: Any]
        else { return nil }
        let type = error["type"] as? String ?? error["code"] as? String ?? "error"
        let message = (error["message"] as? String).map { ": \($0.count > 300 ? String($0.prefix(300)) + "…" : $0)" } ?? ""
        return type + message
    }
}
