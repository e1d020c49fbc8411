import Dispatch
import Foundation

/// The process's database access: one ``PostgresConnection`` confined to a dedicated serial queue.
///
/// libpq blocks, so every call hops off Swift's cooperative pool onto this queue and resumes the caller
/// when done. A dropped session is reopened once: a single statement outside a transaction is retried,
/// and a transaction whose connection died before `COMMIT` is re-run from the start (the server rolled it
/// back). A connection lost during `COMMIT` itself is reported, never retried, because the outcome is unknown.
public final class Database: @unchecked Sendable {
    private let queue = DispatchQueue(label: "Database.libpq")
    private let connectionString: ConnectionString
    private let redactor: SecretRedactor
    private let logger: Logger
    /// Touched only on `queue`.
    private var connection: PostgresConnection?

    public init(_ connectionString: ConnectionString, logger: Logger, redactor: SecretRedactor = .shared) {
        self.connectionString = connectionString
        self.redactor = redactor
        self.logger = logger
        if let password = connectionString.password { redactor.register(password) }
    }

    /// Where this database is, safe to print.
    public var location: String { connectionString.description }

    /// Runs `body` with the connection, outside any explicit transaction (each statement autocommits).
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await onQueue {
            let conn = try self.openConnection()
            do {
                return try body(conn)
            } catch let error as PostgresError where error.isConnectionLoss {
                self.logger.warning("database connection lost; reconnecting once", ["error": error])
                let fresh = try self.reopen()
                return try body(fresh)
            }
        }
    }

    /// Runs `body` inside `BEGIN … COMMIT`; any thrown error rolls back and is rethrown.
    ///
    /// `body` must do only database work: it runs on the database queue, and it may run twice if the
    /// connection drops before `COMMIT`.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await onQueue {
            do {
                return try self.runTransaction(on: try self.openConnection(), body)
            } catch let failure as TransactionFailure {
                throw failure.error
            } catch let error as PostgresError where error.isConnectionLoss {
                self.logger.warning("database connection lost before commit; reconnecting and retrying once", ["error": error])
                do {
                    return try self.runTransaction(on: try self.reopen(), body)
                } catch let failure as TransactionFailure {
                    throw failure.error
                }
            }
        }
    }

    /// Closes the connection; the next call opens a new one.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection = nil
                continuation.resume()
            }
        }
    }

    // MARK: - Queue confinement

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    private func openConnection() throws -> PostgresConnection {
        if let connection, connection.isHealthy { return connection }
        return try reopen()
    }

    private func reopen() throws -> PostgresConnection {
        connection = nil
        let fresh = try PostgresConnection(connectionString, redactor: redactor)
        connection = fresh
        return fresh
    }

    /// Marks an error that must not trigger the reconnect-and-retry path (it happened at or after COMMIT,
    /// or inside the body for a reason other than connection loss).
    private struct TransactionFailure: Error { let error: Error }

    private func runTransaction<T>(on conn: PostgresConnection, _ body: (PostgresConnection) throws -> T) throws -> T {
        try conn.query("BEGIN")
        let value: T
        do {
            value = try body(conn)
        } catch let error as PostgresError where error.isConnectionLoss {
            throw error
        } catch {
            if conn.isHealthy, conn.inTransaction { _ = try? conn.query("ROLLBACK") }
            throw TransactionFailure(error: error)
        }
        do {
            try conn.query("COMMIT")
        } catch let error as PostgresError where error.isConnectionLoss {
            throw TransactionFailure(error: PostgresError(
                code: .connectionLost,
                sqlState: error.sqlState,
                message: "connection lost during COMMIT; the transaction may or may not have been applied: \(error.message)"
            ))
        } catch {
            throw TransactionFailure(error: error)
        }
        return value
    }
}
