/// A failure talking to PostgreSQL.
///
/// `description` is safe to log: the connection password never appears in it, because every
/// message that libpq produced is passed through the connection's redactor before it is stored.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidConnectionString, connectionFailed, connectionLost, queryFailed, unexpectedResult, decoding
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `DATABASE_URL` could not be parsed.
        public static let invalidConnectionString = Code(.invalidConnectionString)
        /// The server could not be reached or refused the login.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection dropped while a statement was running.
        public static let connectionLost = Code(.connectionLost)
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        public static let queryFailed = Code(.queryFailed)
        /// The server answered with a result we did not expect.
        public static let unexpectedResult = Code(.unexpectedResult)
        /// A column value could not be decoded into the requested Swift type.
        public static let decoding = Code(.decoding)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The five-character SQLSTATE, when the server sent one (for example `23505`).
    public var sqlState: String?
    /// The server's or libpq's message, with secrets removed.
    public var message: String
    /// The first line of the statement that failed, never its parameters.
    public var statement: String?

    public init(code: Code, sqlState: String? = nil, message: String, statement: String? = nil) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.statement = statement
    }

    public var description: String {
        var parts = ["postgres \(code)"]
        if let sqlState { parts.append("SQLSTATE \(sqlState)") }
        var text = parts.joined(separator: " ") + ": " + message
        if let statement { text += " (in: \(statement))" }
        switch code {
        case .connectionFailed, .invalidConnectionString:
            text += "; check DATABASE_URL (host, port, user, password, sslmode) and that the server is running"
        default:
            break
        }
        return text
    }
}

extension PostgresError {
    /// SQLSTATE class 08 (connection exception) and 57P0x (server shutting down) mean the session is gone.
    var isConnectionLoss: Bool {
        if code == .connectionLost { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P0")
    }
}
