import Foundation
import Synchronization

/// Severity of a log line; `LOG_LEVEL` selects the lowest one printed.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case trace, debug, info, notice, warning, error

    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else {
            if name.lowercased() == "warn" { self = .warning; return }
            return nil
        }
        self = level
    }

    public var description: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Writes one logfmt line per event (`ts=… level=info msg="…" key=value`), as Heroku's log tooling expects.
///
/// Every line passes through the ``SecretRedactor`` before it is written, so a secret that slipped into a
/// message or a metadata value is masked rather than printed.
public struct Logger: Sendable {
    /// Where lines go; stdout in production, a buffer in tests.
    public final class Sink: Sendable {
        private let write: @Sendable (String) -> Void
        public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }
        public static let standardOutput = Sink { line in
            standardOutputLock.withLock { _ in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
        func callAsFunction(_ line: String) { write(line) }
    }

    public var level: LogLevel
    public var metadata: [(String, String)]
    private let sink: Sink
    private let redactor: SecretRedactor

    public init(level: LogLevel = .info, sink: Sink = .standardOutput, redactor: SecretRedactor = .shared) {
        self.level = level
        self.metadata = []
        self.sink = sink
        self.redactor = redactor
    }

    /// A logger whose lines all carry `key=value`.
    public func with(_ key: String, _ value: CustomStringConvertible) -> Logger {
        var copy = self
        copy.metadata.append((key, value.description))
        return copy
    }

    public func log(_ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, CustomStringConvertible> = [:]) {
        guard level >= self.level else { return }
        var line = "ts=\(Self.timestamp()) level=\(level) msg=\(Self.quote(message))"
        for (key, value) in metadata { line += " \(key)=\(Self.quote(value))" }
        for (key, value) in fields { line += " \(key)=\(Self.quote(value.description))" }
        sink(redactor.redact(line))
    }

    /// The line that ends a run: written whatever `LOG_LEVEL` says, because it is the run's result.
    public func summary(_ message: String, _ fields: KeyValuePairs<String, CustomStringConvertible> = [:]) {
        var copy = self
        copy.level = .trace
        copy.log(.info, message, fields)
    }

    public func trace(_ m: String, _ f: KeyValuePairs<String, CustomStringConvertible> = [:]) { log(.trace, m, f) }
    public func debug(_ m: String, _ f: KeyValuePairs<String, CustomStringConvertible> = [:]) { log(.debug, m, f) }
    public func info(_ m: String, _ f: KeyValuePairs<String, CustomStringConvertible> = [:]) { log(.info, m, f) }
    public func notice(_ m: String, _ f: KeyValuePairs<String, CustomStringConvertible> = [:]) { log(.notice, m, f) }
    public func warning(_ m: String, _ f: KeyValuePairs<String, CustomStringConvertible> = [:]) { log(.warning, m, f) }
    public func error(_ m: String, _ f: KeyValuePairs<String, CustomStringConvertible> = [:]) { log(.error, m, f) }

    /// logfmt quoting: bare when the value has no space, quote, `=` or control character.
    static func quote(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 || $0 == "\\" }
        guard needsQuotes else { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = tv.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, Int(tv.tv_usec / 1000)
        )
    }
}

private let standardOutputLock = Mutex<Void>(())
