import Core
import Foundation
import Synchronization

/// Shows that long work moves: a live line on a terminal, a logfmt `progress` line at most every
/// ``Style/interval`` otherwise (a backfill of thousands of posts must not look frozen in `heroku logs`).
public final class ProgressReporter: Sendable {
    public enum Style: Sendable {
        /// Rewrites one line on stderr (stdout carries the log lines).
        case terminal
        /// A `progress` log line whenever `interval` has passed since the last one.
        case log(interval: Duration)
        case off

        /// A terminal when stderr is one, log lines every 10 seconds otherwise.
        public static var automatic: Style {
            isatty(STDERR_FILENO) == 1 ? .terminal : .log(interval: .seconds(10))
        }
    }

    private struct State {
        var done = 0
        var lastReport: ContinuousClock.Instant
        var wroteTerminalLine = false
    }

    private let job: String
    private let total: Int
    private let unit: String
    private let style: Style
    private let logger: Logger
    private let started = ContinuousClock.now
    private let state: Mutex<State>

    public init(job: String, total: Int, unit: String, style: Style, logger: Logger) {
        self.job = job
        self.total = total
        self.unit = unit
        self.style = style
        self.logger = logger
        self.state = Mutex(State(lastReport: .now))
    }

    public func advance(by count: Int = 1) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            state.done += count
            switch style {
            case .off:
                return nil
            case .terminal:
                state.wroteTerminalLine = true
                return "\r\(job): \(state.done)/\(total) \(unit)\(percent(state.done)) \(rate(state.done, now))\u{1B}[K"
            case .log(let interval):
                guard now - state.lastReport >= interval else { return nil }
                state.lastReport = now
                return ""
            }
        }
        guard let line else { return }
        if line.isEmpty {
            logger.info("progress", ["done": state.withLock { $0.done }, "total": total, "unit": unit, "per_s": rateValue(state.withLock { $0.done }, now)])
        } else {
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Ends the live line so the summary starts on a fresh one.
    public func finish() {
        if state.withLock({ $0.wroteTerminalLine }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func percent(_ done: Int) -> String {
        total > 0 ? String(format: " (%d%%)", min(100, done * 100 / total)) : ""
    }

    private func rateValue(_ done: Int, _ now: ContinuousClock.Instant) -> String {
        let elapsed = now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return String(format: "%.1f", seconds > 0 ? Double(done) / seconds : 0)
    }

    private func rate(_ done: Int, _ now: ContinuousClock.Instant) -> String {
        "\(rateValue(done, now))/s"
    }
}
