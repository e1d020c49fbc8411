import Core
import Foundation

/// `status`, `report`, `retry` and `skip`: an operator's commands. They need only `DATABASE_URL`, write
/// their document to stdout and any log line to stderr, so `report --format html > report.html` is clean.
enum OperatorCommand {
    static func run(_ invocation: Invocation) async throws -> ExitCode {
        let settings = try Config.loadDatabaseSettings()
        let logger = Logger(level: max(settings.logLevel, .warning), sink: Logger.Sink { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }).with("job", invocation.command!.rawValue)
        let database = Database(settings.database, logger: logger)
        try await SchemaCheck.ensureCurrent(database)
        switch invocation.command! {
        case .status:
            let snapshot = try await MirrorStore(database: database).status(maxAttempts: TranslatePendingJob.maxAttempts)
            write(invocation.json ? try snapshot.json() : snapshot.text())
        case .report:
            let report = try await AnalyticsReport.build(database: database, window: invocation.since ?? .seconds(7 * 86400))
            write(try (invocation.format ?? .table).render(report))
        case .retry, .skip:
            let actions = OperatorActions(database: database)
            let retry = invocation.command == .retry
            do {
                let outcome = retry
                    ? try await actions.retry(postID: invocation.postID!, routeID: invocation.route)
                    : try await actions.skip(postID: invocation.postID!, routeID: invocation.route)
                let posts = outcome.postIDs.map(String.init).joined(separator: ", ")
                let routes = outcome.routeIDs.map { "#\($0)" }.joined(separator: ", ")
                write(retry
                    ? "post(s) \(posts) will be translated and published again by the next runs (route \(routes))\n"
                    : "post(s) \(posts) skipped on route \(routes); they will not be published\n")
            } catch let refusal as OperatorActions.Refusal {
                CommandLineTool.printError(refusal.description)
                return .failure
            }
        default:
            preconditionFailure("\(invocation.command!.rawValue) is a pipeline job")
        }
        return .success
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
