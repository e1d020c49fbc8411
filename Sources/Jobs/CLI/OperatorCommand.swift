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
            let snapshot = try await MirrorStore(database: database).status()
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
        case .glossary:
            return try await glossary(invocation, store: MirrorStore(database: database))
        default:
            preconditionFailure("\(invocation.command!.rawValue) is a pipeline job")
        }
        return .success
    }

    /// `glossary import FILE` / `glossary export [FILE]` for the pair `--from`/`--to` (SOURCE_LANG/TARGET_LANG).
    static func glossary(_ invocation: Invocation, store: MirrorStore) async throws -> ExitCode {
        let values = Config.values(["SOURCE_LANG", "TARGET_LANG"])
        let from = invocation.from ?? values["SOURCE_LANG"].flatMap(LanguageCode.init)
        let to = invocation.to ?? values["TARGET_LANG"].flatMap(LanguageCode.init)
        guard let from, let to else {
            let missing = [from == nil ? "the source language: pass --from uk or set SOURCE_LANG" : nil,
                           to == nil ? "the target language: pass --to en or set TARGET_LANG" : nil].compactMap { $0 }
            CommandLineTool.printError("glossary needs " + missing.joined(separator: ", and "))
            return .usage
        }
        guard from != to else {
            CommandLineTool.printError("glossary \(from)→\(to) translates a language into itself; give two different languages")
            return .usage
        }
        switch invocation.glossaryAction! {
        case .import:
            let path = invocation.file!
            // `-` is stdin, so a file on the operator's machine reaches a one-off dyno: `heroku run --no-tty … - < terms.csv`.
            let data: Data
            do {
                data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                let reason = (error as NSError).localizedDescription
                CommandLineTool.printError("cannot read \(path) (\(reason)); give the path of a CSV file with rows source,target[,note]")
                return .failure
            }
            guard let text = String(data: data, encoding: .utf8) else {
                CommandLineTool.printError("\(path) is not UTF-8 text; save it as \"CSV UTF-8\" (Excel) or convert it, e.g. iconv -f cp1252 -t utf-8; nothing was imported")
                return .failure
            }
            let parsed: Glossary
            do {
                parsed = try Glossary.parseCSV(text)
            } catch {
                CommandLineTool.printError("\(path): \(error.description); nothing was imported")
                return .failure
            }
            // An empty file (or an empty stdin) is a mistake, and with --replace it would wipe the glossary.
            guard !parsed.terms.isEmpty else {
                CommandLineTool.printError("\(path == "-" ? "stdin" : path) holds no terms (rows source,target[,note]); nothing was imported")
                return .failure
            }
            let total = try await store.importGlossary(parsed, from: from, to: to, replace: invocation.replace)
            write("imported \(parsed.terms.count) term(s) for \(from)→\(to); the glossary now holds \(total)\n")
        case .export:
            let glossary = try await store.glossary(from: from, to: to)
            if glossary.isEmpty { FileHandle.standardError.write(Data("note: the glossary \(from)→\(to) holds no terms\n".utf8)) }
            let csv = glossary.csv()
            if let path = invocation.file {
                guard FileManager.default.createFile(atPath: path, contents: Data(csv.utf8)) else {
                    CommandLineTool.printError("cannot write \(path); choose a writable path")
                    return .failure
                }
            } else {
                write(csv)
            }
        }
        return .success
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
