import Core
import Dispatch
import Foundation

/// The `JobRunner` command: parses arguments, loads config, runs jobs, and turns the outcome into one
/// summary line and an exit status.
public enum CommandLineTool {
    public static func main(_ arguments: [String]) async -> Never {
        let code = await run(arguments)
        exit(code.rawValue)
    }

    static func run(_ arguments: [String]) async -> ExitCode {
        let invocation: Invocation
        do {
            invocation = try Invocation.parse(arguments)
        } catch {
            // Point at the command's own help when the command itself was understood.
            let command = arguments.first { Invocation.Command(rawValue: $0) != nil }
            printError(error.description + "\n" + "Run `JobRunner \(command.map { "\($0) " } ?? "")--help` for usage.")
            return .usage
        }
        guard let command = invocation.command else {
            print(HelpText.general, terminator: "")
            return invocation.help ? .success : .usage
        }
        if invocation.help {
            print(HelpText.command(command), terminator: "")
            return .success
        }

        do {
            if command == .migrate, let directory = invocation.emitSupabase {
                return try emitSupabase(into: directory)
            }
            if command == .migrate {
                return try await migrate()
            }
            if command == .doctor {
                var loaded: Config?
                var problems: [String] = []
                do { loaded = try Config.load() } catch { problems = error.problems }
                guard let config = loaded else {
                    // Still a checklist: every configuration problem, then what can be checked with the database alone.
                    for problem in problems { print(SecretRedactor.shared.redact("✗ configuration — \(problem)")) }
                    if let settings = try? Config.loadDatabaseSettings() {
                        let database = Database(settings.database, logger: Logger(level: .error))
                        for check in await Doctor.databaseChecks(database).checks { print(SecretRedactor.shared.redact(check.line)) }
                    }
                    return .failure
                }
                let logger = Logger(level: config.logLevel).with("job", "doctor")
                let checks = await Doctor(context: JobContext.live(config: config, logger: logger, stop: StopSignal())).run()
                for check in checks { print(SecretRedactor.shared.redact(check.line)) }
                return checks.allSatisfy(\.ok) ? .success : .failure
            }
            if !command.isJob {
                return try await OperatorCommand.run(invocation)
            }
            let config = try Config.load()
            let logger = Logger(level: config.logLevel).with("job", command.rawValue)
            logger.info("starting", ["environment": RuntimeEnvironment.detect().description, "routes_source": config.defaultRoute.source.description,
                                     "destination": config.defaultRoute.destination.description, "translator": config.translation.provider.rawValue])
            let stop = StopSignal()
            let signals = installSignalHandlers(stop, logger: logger)
            defer { withExtendedLifetime(signals) {} }
            let runStart = ContinuousClock.now
            let deadline = invocation.maxRuntime.map { ContinuousClock.now + $0 }
            let context = JobContext.live(config: config, logger: logger, stop: stop, deadline: deadline)
            let timer = invocation.maxRuntime.map { enforce(maxRuntime: $0, stop: stop, logger: logger) }
            defer { timer?.cancel() }
            let job = job(for: command)
            if let every = invocation.every {
                return await loop(job, every: every, context: context)
            }
            do {
                return try await runOnce(job, context: context)
            } catch {
                // Even a run that could not start (the database is down) ends with its summary line.
                logger.summary("run finished", ["summary": "outcome=failed", "duration_s": seconds(since: runStart)])
                throw error
            }
        } catch {
            report(error, command: command.rawValue)
            return ExitCode.forError(error)
        }
    }

    static func job(for command: Invocation.Command) -> any Job {
        switch command {
        case .fetch: FetchJob()
        case .translatePending: TranslatePendingJob()
        case .publish: PublishJob()
        case .aggregateAnalytics: AggregateAnalyticsJob()
        case .all, .migrate, .status, .report, .retry, .skip, .doctor, .glossary: Pipeline()
        }
    }

    static func migrate() async throws -> ExitCode {
        let settings = try Config.loadDatabaseSettings()
        let logger = Logger(level: settings.logLevel).with("job", "migrate")
        let start = ContinuousClock.now
        let database = Database(settings.database, logger: logger)
        let applied = try await Migrator(database: database, logger: logger).migrate()
        logger.summary("run finished", [
            "outcome": "ok", "applied": applied.count, "schema_version": Migration.all.last?.version ?? 0,
            "duration_s": seconds(since: start),
        ])
        return .success
    }

    /// Ends the run by `maxRuntime`: a soft stop (no new work) in its last tenth (at most 30 s), then a hard
    /// stop that abandons requests in flight.
    static func enforce(maxRuntime: Duration, stop: StopSignal, logger: Logger) -> Task<Void, Never> {
        let grace = min(.seconds(30), maxRuntime / 10)
        return Task {
            do {
                try await Task.sleep(for: maxRuntime - grace)
                logger.notice("max runtime nearly reached; stopping at the next safe point", ["max_runtime": maxRuntime])
                stop.requestSoftStop()
                try await Task.sleep(for: grace)
                stop.requestStop()
            } catch {}
        }
    }

    /// Writes every migration as a Supabase CLI file; an existing file with the same name is replaced.
    static func emitSupabase(into directory: String) throws -> ExitCode {
        let url = URL(fileURLWithPath: directory, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for migration in Migration.all {
                let file = migration.supabaseFile
                try Data(file.contents.utf8).write(to: url.appendingPathComponent(file.name), options: .atomic)
                print(url.appendingPathComponent(file.name).path)
            }
        } catch {
            printError("cannot write Supabase migrations into \(directory): \(error.localizedDescription); check that the folder is writable")
            return .failure
        }
        return .success
    }

    static func runOnce(_ job: any Job, context: JobContext) async throws -> ExitCode {
        let start = ContinuousClock.now
        try await SchemaCheck.ensureCurrent(context.store.database)
        let run = await RunRecord.start(type(of: job).name, context: context)
        let result: JobSummary?
        do {
            result = try await runCancellable(job, context: context)
        } catch {
            await run.finish(outcome: "failed", summary: "", error: String(describing: error))
            throw error
        }
        guard let summary = result else {
            context.logger.summary("run finished", ["summary": "outcome=stopped", "duration_s": seconds(since: start)])
            await run.finish(outcome: "stopped", summary: "")
            return .success
        }
        let outcome = context.stop.isStopRequested && summary.outcome == "ok" ? "stopped" : summary.outcome
        let line = logSummary(summary, outcome: outcome, start: start, logger: context.logger)
        await run.finish(outcome: outcome, summary: line, error: summary.errors.isEmpty ? nil : summary.errors.joined(separator: "; "))
        for error in summary.errors { printError("\(type(of: job).name) failed for \(error)") }
        return outcome == "failed" ? .failure : .success
    }

    /// Runs `job` every `interval` until a stop is requested. A failed iteration is logged and the loop goes
    /// on (a database restart or an API outage must not kill the worker); a configuration error ends it.
    static func loop(_ job: any Job, every interval: Duration, context: JobContext) async -> ExitCode {
        context.logger.info("loop started", ["every": interval])
        var iterations = 0
        var failuresInARow = 0
        while !context.stop.isStopRequested {
            let start = ContinuousClock.now
            iterations += 1
            var wait = interval
            var run: RunRecord?
            do {
                try await SchemaCheck.ensureCurrent(context.store.database)
                run = await RunRecord.start(type(of: job).name, context: context)
                guard let summary = try await runCancellable(job, context: context) else {
                    await run?.finish(outcome: "stopped", summary: "")
                    break
                }
                let line = logSummary(summary, outcome: summary.outcome, start: start, logger: context.logger.with("iteration", iterations))
                await run?.finish(outcome: summary.outcome, summary: line, error: summary.errors.isEmpty ? nil : summary.errors.joined(separator: "; "))
                if failuresInARow > 0 { context.logger.notice("recovered", ["after_failed_iterations": failuresInARow]) }
                failuresInARow = 0
            } catch let error as TranslationError where error.kind == .fatal {
                await run?.finish(outcome: "failed", summary: "", error: error.description)
                report(error, command: type(of: job).name)
                return .failure
            } catch let error as SchemaCheck.OutdatedSchema {
                report(error, command: type(of: job).name)
                return .failure
            } catch {
                await run?.finish(outcome: "failed", summary: "", error: String(describing: error))
                // A database restart or an outage: back off (doubling, at most 5 minutes or the interval) so a
                // long outage is not hammered, and say when the next attempt is.
                failuresInARow += 1
                wait = max(interval, min(interval * (1 << min(failuresInARow - 1, 10)), .seconds(300)))
                context.logger.error("iteration failed; retrying", [
                    "error": String(describing: error), "iteration": iterations, "attempt": failuresInARow, "retry_in": wait,
                ])
            }
            let deadline = start + wait
            while !context.stop.isStopRequested, ContinuousClock.now < deadline {
                try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
            }
        }
        context.logger.summary("run finished", ["outcome": "stopped", "iterations": iterations])
        return .success
    }

    /// Runs `job` in a task that a stop request cancels, so a request in flight is abandoned at once.
    ///
    /// - Returns: `nil` when the stop interrupted the job (it abandoned its current item safely).
    static func runCancellable(_ job: any Job, context: JobContext) async throws -> JobSummary? {
        let task = Task { try await job.run(context) }
        context.stop.onStop { task.cancel() }
        do {
            return try await task.value
        } catch is CancellationError where context.stop.isStopRequested {
            return nil
        }
    }

    @discardableResult
    static func logSummary(_ summary: JobSummary, outcome: String, start: ContinuousClock.Instant, logger: Logger) -> String {
        var line = "outcome=\(outcome)"
        for (key, value) in summary.counts.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        logger.summary("run finished", ["summary": line, "duration_s": seconds(since: start)])
        return line
    }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        return String(format: "%.3f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// One line on stderr, secrets masked.
    static func report(_ error: Error, command: String) {
        let text: String
        switch error {
        case let error as Config.ValidationError:
            text = "configuration is invalid:\n" + error.problems.map { "  - " + $0 }.joined(separator: "\n")
        default:
            text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        printError("\(command) failed: \(text)")
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data(("error: " + SecretRedactor.shared.redact(text) + "\n").utf8))
    }

    /// SIGTERM (Heroku's shutdown) and SIGINT (Ctrl-C) ask jobs to stop at the next safe point; a second
    /// Ctrl-C ends the process at once.
    static func installSignalHandlers(_ stop: StopSignal, logger: Logger) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                if stop.isStopRequested, signo == SIGINT { exit(130) }
                stop.requestStop()
                logger.notice("stop requested; finishing the current item", ["signal": signo == SIGTERM ? "SIGTERM" : "SIGINT"])
            }
            source.resume()
            return source
        }
    }
}

/// A job run as recorded in `mirror.job_runs`. Recording is best effort: a failure to record is logged and
/// never fails the job (the job's own database work reports real outages).
struct RunRecord {
    let id: Int64?
    let log: JobRunLog
    let logger: Logger

    static func start(_ job: String, context: JobContext) async -> RunRecord {
        let log = JobRunLog(database: context.store.database)
        do {
            return RunRecord(id: try await log.start(job: job), log: log, logger: context.logger)
        } catch {
            context.logger.warning("could not record the run's start", ["error": String(describing: error)])
            return RunRecord(id: nil, log: log, logger: context.logger)
        }
    }

    func finish(outcome: String, summary: String, error: String? = nil) async {
        guard let id else { return }
        do {
            try await log.finish(id, outcome: outcome, summary: summary, error: error)
        } catch {
            logger.warning("could not record the run's end", ["error": String(describing: error)])
        }
    }
}

/// Refuses to run jobs against a database whose schema this build does not match.
enum SchemaCheck {
    struct OutdatedSchema: Error, CustomStringConvertible {
        let found: Int?
        let needed: Int
        var description: String {
            if let found, found > needed {
                return "database schema is at version \(found), newer than this build's \(needed); deploy the release that migrated it"
            }
            return "database schema is at version \(found.map(String.init) ?? "none"), this build needs \(needed); run `JobRunner migrate`"
        }
    }

    static func ensureCurrent(_ database: Database) async throws {
        let needed = Migration.all.last?.version ?? 0
        let found = try await Migrator(database: database, logger: Logger(level: .error)).currentVersion()
        guard found == needed else { throw OutdatedSchema(found: found, needed: needed) }
    }
}
