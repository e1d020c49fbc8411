import Foundation
import TestSupport

@testable import Core
@testable import Jobs

/// Builds a job context on a test database with a file destination in a temporary folder.
struct Harness {
    let url: String
    let database: Database
    let output: URL
    let logs = LogCapture()

    func config(export: URL, language: String = "en") throws -> Config {
        Config(
            databaseURL: try ConnectionString(url),
            defaultRoute: RouteSpec(
                source: .desktopExport(path: export.path),
                destination: .files(directory: output.path),
                targetLanguage: LanguageCode(language)!
            ),
            logLevel: .info,
            anthropic: nil
        )
    }

    func context(
        export: URL,
        translator: any Translator = PseudoTranslator(),
        stop: StopSignal = StopSignal(),
        destination: (@Sendable (RouteSpec) throws -> any Destination)? = nil,
        database: Database? = nil,
        configure: (inout Config) -> Void = { _ in }
    ) throws -> JobContext {
        var config = try config(export: export)
        configure(&config)
        return JobContext(
            config: config,
            logger: logs.logger(level: .info),
            store: MirrorStore(database: database ?? self.database),
            translator: translator,
            stop: stop,
            makeDestination: destination
        )
    }

    var files: FileDestination { FileDestination(directory: output.path) }

    func count(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> Int {
        try await database.withConnection { conn in try conn.query(sql, parameters).first!.decode("n", as: Int.self) }
    }

    static func with(_ body: (Harness) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { url, database in
            try await Paths.withTemporaryDirectory { dir in
                try await body(Harness(url: url, database: database, output: dir.appendingPathComponent("out")))
            }
        }
    }
}

/// Writes the first `count` messages of an export (service messages included) to a new file.
func truncatedExport(_ source: URL, keeping count: Int, into dir: URL) throws -> URL {
    var root = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
    root["messages"] = Array((root["messages"] as! [Any]).prefix(count))
    let url = dir.appendingPathComponent("partial-\(count).json")
    try JSONSerialization.data(withJSONObject: root).write(to: url)
    return url
}

/// A translator that fails for texts containing a marker (every text when `nil`) and translates the rest
/// like the pseudo-translator.
struct FailingTranslator: Translator {
    let marker: String?
    let kind: TranslationError.Kind
    var name: String { "failing" }
    func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
        // The marker's first word decides; the rest is echoed in the error, as an API error may echo a request.
        if let marker, !text.text.contains(marker.split(separator: " ").first.map(String.init) ?? marker) {
            return try await PseudoTranslator().translate(text, to: language)
        }
        throw TranslationError(kind, "scripted failure for \(marker ?? "every text")")
    }
}

/// A destination that behaves like the file destination but fails around one unit, as a crash would.
struct CrashingDestination: Destination {
    enum When: Sendable { case beforeWriting, afterWriting }
    let inner: FileDestination
    let failOnMessageID: Int64
    let when: When
    struct Crash: Error {}

    func publish(_ unit: PublicationUnit, journal: any PublicationJournal) async throws -> [[String]] {
        let hit = unit.items.contains { $0.source.messageID == failOnMessageID }
        if hit, when == .beforeWriting { throw Crash() }
        let ids = try await inner.publish(unit, journal: journal)
        if hit { throw Crash() }
        return ids
    }
    func findPublished(key: String, postIDs: [Int64], journal: any PublicationJournal) async throws -> PublishedLookup {
        try await inner.findPublished(key: key, postIDs: postIDs, journal: journal)
    }
    func edit(_ post: PublicationUnit, journal: any PublicationJournal) async throws -> [String] { try await inner.edit(post, journal: journal) }
    func finishRun(published: Int) async throws { try await inner.finishRun(published: published) }
}
