import Foundation

/// Records each run of a job in `mirror.job_runs`, so `status` can show every job's last run and outcome.
public struct JobRunLog: Sendable {
    let database: Database
    /// Runs older than this are deleted when a new one starts; a 30-second loop writes ~2,900 a day.
    static let retentionDays = 30

    public init(database: Database) {
        self.database = database
    }

    /// Records a start; the returned id is passed to ``finish(_:outcome:summary:error:)``.
    public func start(job: String) async throws -> Int64 {
        let host = ProcessInfo.processInfo.environment["DYNO"] ?? ProcessInfo.processInfo.hostName
        return try await database.transaction { conn in
            try conn.query("DELETE FROM mirror.job_runs WHERE started_at < now() - make_interval(days => $1)", [Self.retentionDays])
            return try conn.query(
                "INSERT INTO mirror.job_runs (job, host, pid) VALUES ($1, $2, $3) RETURNING id",
                [job, host, Int(getpid())]).first!.decode("id")
        }
    }

    public func finish(_ id: Int64, outcome: String, summary: String, error: String? = nil) async throws {
        _ = try await database.withConnection { conn in
            try conn.query(
                "UPDATE mirror.job_runs SET finished_at = now(), outcome = $2, summary = $3, error = $4 WHERE id = $1",
                [id, outcome, summary, error.map(SecretRedactor.shared.redact)])
        }
    }
}
