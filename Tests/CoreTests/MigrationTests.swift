import Foundation
import Testing
import TestSupport

@testable import Core

@Suite struct MigrationTests {
    @Test func secondRunAppliesNothing() async throws {
        try await TestDatabase.withFresh { url in
            let db = Database(try ConnectionString(url), logger: Logger(level: .error))
            let migrator = Migrator(database: db, logger: Logger(level: .error))
            #expect(try await migrator.currentVersion() == nil)
            #expect(try await migrator.migrate() == Migration.all.map(\.version))
            #expect(try await migrator.migrate() == [])
            #expect(try await migrator.currentVersion() == Migration.all.last?.version)
        }
    }

    @Test func concurrentRunsApplyEachMigrationOnce() async throws {
        try await TestDatabase.withFresh { url in
            let connection = try ConnectionString(url)
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let db = Database(connection, logger: Logger(level: .error))
                        return try await Migrator(database: db, logger: Logger(level: .error)).migrate()
                    }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.sorted() == Migration.all.map(\.version))
            let db = Database(connection, logger: Logger(level: .error))
            let recorded = try await db.withConnection { conn in try conn.query("SELECT count(*) AS n FROM mirror.schema_migrations").first!.decode("n", as: Int.self) }
            #expect(recorded == Migration.all.count)
        }
    }

    @Test func everyTableLivesInThePrivateSchema() async throws {
        try await TestDatabase.withMigrated { _, db in
            let publicTables = try await db.withConnection { conn in
                try conn.query("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'").first!.decode("n", as: Int.self)
            }
            let mirrorTables = try await db.withConnection { conn in
                try conn.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'mirror' ORDER BY 1").map { try $0.decode("table_name", as: String.self) }
            }
            #expect(publicTables == 0)
            #expect(mirrorTables == ["analytics_dirty_hours", "analytics_rollups", "events", "glossary_terms", "job_runs", "leases", "posts", "publications", "routes", "schema_migrations", "sent_messages", "source_cursors", "source_gaps", "source_offsets", "translation_batch_items", "translation_batches", "translation_claims", "translation_failures", "translation_requests", "translations"])
        }
    }
}
