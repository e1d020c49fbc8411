/// Applies ``Migration/all`` in order and records each in `mirror.schema_migrations`.
///
/// Safe when several processes start at once (a release phase and a worker, two Scheduler runs): every
/// migration runs in a transaction that first takes a transaction-scoped advisory lock, so the second
/// process waits, then sees the version recorded and skips it. Transaction-scoped locks are released at
/// COMMIT, which keeps this compatible with transaction-mode poolers.
public struct Migrator: Sendable {
    /// Arbitrary constant naming "schema migrations of this product" for `pg_advisory_xact_lock`.
    static let lockKey: Int64 = 0x6D69_7272_6F72_0001

    let database: Database
    let logger: Logger
    let migrations: [Migration]

    public init(database: Database, logger: Logger, migrations: [Migration] = Migration.all) {
        self.database = database
        self.logger = logger
        self.migrations = migrations
    }

    /// Applies what is missing.
    ///
    /// - Returns: the versions applied by this call (empty when the schema was current).
    @discardableResult
    public func migrate() async throws -> [Int] {
        var applied: [Int] = []
        for migration in migrations.sorted(by: { $0.version < $1.version }) {
            let didApply = try await database.transaction { conn in
                try conn.query("SELECT pg_advisory_xact_lock($1)", [Self.lockKey])
                try conn.query("CREATE SCHEMA IF NOT EXISTS \(databaseSchema)")
                try conn.query("""
                    CREATE TABLE IF NOT EXISTS \(databaseSchema).schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """)
                let existing = try conn.query("SELECT 1 FROM \(databaseSchema).schema_migrations WHERE version = $1", [migration.version])
                guard existing.count == 0 else { return false }
                try conn.executeScript(migration.sql)
                try conn.query(
                    "INSERT INTO \(databaseSchema).schema_migrations (version, name) VALUES ($1, $2)",
                    [migration.version, migration.name]
                )
                return true
            }
            if didApply {
                applied.append(migration.version)
                logger.info("migration applied", ["version": migration.version, "name": migration.name])
            }
        }
        return applied
    }

    /// The highest version recorded, or `nil` for an empty database.
    public func currentVersion() async throws -> Int? {
        try await database.withConnection { conn in
            let exists = try conn.query("SELECT to_regclass($1) IS NOT NULL AS present", ["\(databaseSchema).schema_migrations"])
            guard try exists.first?.decode("present", as: Bool.self) == true else { return nil }
            return try conn.query("SELECT max(version) AS v FROM \(databaseSchema).schema_migrations").first?.decodeIfPresent("v", as: Int.self)
        }
    }
}
