internal import CLibpq
import Foundation

/// One libpq connection: the only owner of its `PGconn`, which `deinit` closes.
///
/// All calls block, so a connection is only used from ``Database``'s dedicated queue, never from Swift's
/// cooperative thread pool. Statements go through `PQexecParams` (the unnamed prepared statement), which
/// works through PgBouncer and Supavisor in transaction mode; named prepared statements are never used.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private let connectionString: ConnectionString
    private let redactor: SecretRedactor

    init(_ connectionString: ConnectionString, redactor: SecretRedactor) throws {
        self.connectionString = connectionString
        self.redactor = redactor
        if let password = connectionString.password { redactor.register(password) }
        try open()
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    private func open() throws {
        if let handle { PQfinish(handle) }
        // Earlier keywords are defaults: the expanded DATABASE_URL overrides them when it sets them.
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = ["10", "JobRunner", connectionString.raw]
        let conn = withCStringArray(keywords) { k in
            withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
        }
        handle = conn
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { redactor.redact(String(cString: PQerrorMessage($0)).oneLine()) } ?? "out of memory"
            throw PostgresError(code: .connectionFailed, message: "cannot connect to \(connectionString): \(message)")
        }
        // Notices (for example "schema already exists, skipping") are not errors; keep them off stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    /// Whether libpq still considers the session usable.
    var isHealthy: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Drops the session and opens a new one.
    func reconnect() throws { try open() }

    /// Whether a transaction block is open on this session.
    var inTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with `$1…$n` parameters and returns its rows.
    ///
    /// - Throws: ``PostgresError`` carrying the SQLSTATE; `connectionLost` when the session dropped.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> PostgresRows {
        guard let handle else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        let texts = parameters.map { $0.postgresText?.replacingNUL() }
        let result: OpaquePointer? = withOptionalCStringArray(texts) { values in
            PQexecParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
        }
        guard let result else {
            throw PostgresError(code: .connectionLost, message: redactor.redact(String(cString: PQerrorMessage(handle)).oneLine()), statement: Self.summary(sql))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
            return Self.copyRows(result)
        default:
            let sqlState = PQresultErrorField(result, clibpq_diag_sqlstate()).map { String(cString: $0) }
            let message = redactor.redact(Self.primaryMessage(result) ?? String(cString: PQerrorMessage(handle)).oneLine())
            let lost = PQstatus(handle) != CONNECTION_OK
            throw PostgresError(
                code: lost ? .connectionLost : .queryFailed,
                sqlState: sqlState,
                message: message.isEmpty ? "server closed the connection" : message,
                statement: Self.summary(sql)
            )
        }
    }

    /// Runs a constant multi-statement script (migrations) through the simple query protocol.
    ///
    /// Never pass text built from input: scripts take no parameters, which is why only migrations use this.
    func executeScript(_ sql: StaticString) throws {
        try executeScript(sql.description)
    }

    func executeScript(_ sql: String) throws {
        guard let handle else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        guard let result = PQexec(handle, sql) else {
            throw PostgresError(code: .connectionLost, message: redactor.redact(String(cString: PQerrorMessage(handle)).oneLine()))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let sqlState = PQresultErrorField(result, clibpq_diag_sqlstate()).map { String(cString: $0) }
            throw PostgresError(
                code: PQstatus(handle) == CONNECTION_OK ? .queryFailed : .connectionLost,
                sqlState: sqlState,
                message: redactor.redact(Self.primaryMessage(result) ?? String(cString: PQerrorMessage(handle)).oneLine()),
                statement: Self.summary(sql)
            )
        }
    }

    /// The server's primary message only: DETAIL and CONTEXT can quote the data (a post's text) that failed.
    private static func primaryMessage(_ result: OpaquePointer) -> String? {
        PQresultErrorField(result, clibpq_diag_message_primary()).map { String(cString: $0).oneLine() }
    }

    private static func copyRows(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows = [[String?]]()
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var row = [String?]()
            row.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            rows.append(row)
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, values: rows, affectedRows: affected)
    }

    /// The statement's first line, enough to find it in the code without printing data.
    static func summary(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
        return line.count > 80 ? String(line.prefix(80)) + "…" : line
    }
}

@available(*, unavailable)
extension PostgresConnection: Sendable {}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let pointers = strings.map { $0.map { strdup($0) } ?? nil }
    defer { pointers.forEach { free($0) } }
    return pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
}
