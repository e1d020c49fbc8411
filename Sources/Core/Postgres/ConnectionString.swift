internal import CLibpq

/// A validated `DATABASE_URL`, in URL (`postgres://…`) or keyword (`host=… dbname=…`) form.
///
/// libpq parses it, so every libpq option (`sslmode`, `sslrootcert`, `host=/unix/socket/dir`, …) is honoured
/// exactly as `psql` would. The password is kept out of ``description``.
public struct ConnectionString: Sendable, CustomStringConvertible {
    /// The string as given; pass it only to libpq.
    let raw: String
    /// The password, if the string carries one, so it can be registered with the redactor.
    public let password: String?
    public let host: String?
    public let port: String?
    public let user: String?
    public let database: String?
    public let sslMode: String?

    /// - Throws: ``PostgresError`` with code `invalidConnectionString` and libpq's reason.
    public init(_ raw: String) throws(PostgresError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(raw, &errorMessage) else {
            var reason = "unparseable"
            if let errorMessage {
                reason = String(cString: errorMessage).oneLine()
                PQfreemem(errorMessage)
            }
            throw PostgresError(code: .invalidConnectionString, message: "DATABASE_URL is not a valid connection string: \(reason)")
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        self.raw = raw
        self.password = values["password"]
        self.host = values["host"] ?? values["hostaddr"]
        self.port = values["port"]
        self.user = values["user"]
        self.database = values["dbname"]
        self.sslMode = values["sslmode"]
    }

    /// `user@host:port/db sslmode=…`, never the password.
    public var description: String {
        var text = ""
        if let user { text += user + "@" }
        text += host ?? "localhost"
        if let port { text += ":" + port }
        if let database { text += "/" + database }
        if let sslMode { text += " sslmode=" + sslMode }
        return text
    }
}

extension String {
    /// libpq messages span lines ("…failed: Connection refused\n\tIs the server running…"); errors print as one.
    func oneLine() -> String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
