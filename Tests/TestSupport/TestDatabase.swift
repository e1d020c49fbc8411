import Core
import Foundation

/// Where the throwaway PostgreSQL that `scripts/test.sh` started is, and fresh databases on it.
public enum TestDatabase {
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "TEST_DATABASE_URL is not set; run the tests with scripts/test.sh, which starts a throwaway PostgreSQL"
        }
    }

    /// The maintenance database of the test cluster.
    public static func adminURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty else { throw NotConfigured() }
        return url
    }

    /// Creates an empty database, passes its keyword connection string to `body`, and drops it afterwards.
    public static func withFresh<T>(_ body: (String) async throws -> T) async throws -> T {
        let admin = try adminURL()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let adminDB = Database(try ConnectionString(admin), logger: Logger(level: .error))
        try await adminDB.withConnection { conn in _ = try conn.query("CREATE DATABASE \(name)") }
        let url = admin.replacingOccurrences(of: "dbname=postgres", with: "dbname=\(name)")
        do {
            let value = try await body(url)
            try await adminDB.withConnection { conn in _ = try conn.query("DROP DATABASE \(name) WITH (FORCE)") }
            return value
        } catch {
            _ = try? await adminDB.withConnection { conn in _ = try conn.query("DROP DATABASE \(name) WITH (FORCE)") }
            throw error
        }
    }

    /// A fresh, migrated database.
    public static func withMigrated<T>(_ body: (String, Database) async throws -> T) async throws -> T {
        try await withFresh { url in
            let database = Database(try ConnectionString(url), logger: Logger(level: .error))
            try await Migrator(database: database, logger: Logger(level: .error)).migrate()
            return try await body(url, database)
        }
    }
}

/// Paths into the repository and into `../shared/fixtures`, resolved from this file's location.
public enum Paths {
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public struct MissingFixture: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "fixture \(path) is missing; the tests need ../shared/fixtures beside the repository" }
    }

    public struct MissingRelease: Error, CustomStringConvertible {
        public var description: String { "JOBRUNNER_RELEASE_BIN is not set; run the tests through scripts/test.sh, which builds the release binary" }
    }

    /// A file under `../shared/fixtures`.
    public static func fixture(_ relative: String) throws -> URL {
        let url = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw MissingFixture(path: url.path) }
        return url
    }

    public static var russianExport: URL {
        get throws { try fixture("telegram_desktop_export/guzelskie_perezalivy_ru_public_channel_result.json") }
    }
    public static var chineseExport: URL {
        get throws { try fixture("telegram_desktop_export/trantor_library_zh_public_channel_result.json") }
    }
    public static var sampleExport: URL { repositoryRoot.appendingPathComponent("Samples/sample_export/result.json") }

    /// The built `JobRunner` (scripts/test.sh exports its path).
    public static var jobRunner: URL {
        if let path = ProcessInfo.processInfo.environment["JOBRUNNER_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return repositoryRoot.appendingPathComponent(".build/debug/JobRunner")
    }

    /// The release build of `JobRunner` (scripts/test.sh builds it and exports its path).
    public static var releaseJobRunner: URL {
        get throws {
            guard let path = ProcessInfo.processInfo.environment["JOBRUNNER_RELEASE_BIN"], !path.isEmpty else {
                throw MissingRelease()
            }
            return URL(fileURLWithPath: path)
        }
    }

    /// A new empty temporary folder, removed after `body`.
    public static func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cm-test-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        return try await body(url)
    }
}

/// Collects log lines in memory.
public final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    public init() {}
    public var lines: [String] { lock.withLock { storage } }
    public var logger: Logger { logger() }
    public func logger(level: LogLevel = .trace, redactor: SecretRedactor = .shared) -> Logger {
        Logger(level: level, sink: Logger.Sink { [self] line in lock.withLock { storage.append(line) } }, redactor: redactor)
    }
}
