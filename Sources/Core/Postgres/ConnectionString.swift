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

    /// - Throws: ``PostgresError`` with code `invalidConnectionString` and libpq's reason, with anything that
    ///   looks like a password masked (a string libpq cannot parse cannot be trusted to hide it).
    public init(_ raw: String) throws(PostgresError) {
        func invalid(_ reason: String) -> PostgresError {
            var masked = reason
            for secret in Self.suspectedPasswords(in: raw) { masked = masked.replacingOccurrences(of: secret, with: "[REDACTED]") }
            return PostgresError(code: .invalidConnectionString, message: "DATABASE_URL is not a valid connection string: \(masked)")
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(raw, &errorMessage) else {
            var reason = "unparseable"
            if let errorMessage {
                reason = String(cString: errorMessage).oneLine()
                PQfreemem(errorMessage)
            }
            throw invalid(reason)
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        // libpq checks these only when connecting; checking them here makes them configuration errors.
        if let port = values["port"], !port.split(separator: ",").allSatisfy({ Int($0).map { (1...65535).contains($0) } ?? false }) {
            throw invalid("invalid port \"\(port)\"")
        }
        let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
        if let mode = values["sslmode"], !sslModes.contains(mode) {
            throw invalid("invalid sslmode \"\(mode)\"; use one of \(sslModes.joined(separator: ", "))")
        }
        self.raw = raw
        self.password = values["password"]
        self.host = values["host"] ?? values["hostaddr"]
        self.port = values["port"]
        self.user = values["user"]
        self.database = values["dbname"]
        self.sslMode = values["sslmode"]
    }

    /// Every substring of `raw` that may be a password, even when `raw` is malformed: the userinfo of a
    /// `scheme://user:password@host` (up to the last `@`, so an unescaped `@` in the password is covered)
    /// and the value of a `password=` keyword.
    public static func suspectedPasswords(in raw: String) -> [String] {
        var suspects: [String] = []
        if let scheme = raw.range(of: "://") {
            let afterScheme = raw[scheme.upperBound...]
            let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@") {
                let userinfo = authority[..<at]
                if let colon = userinfo.firstIndex(of: ":") {
                    let password = String(userinfo[userinfo.index(after: colon)...])
                    suspects.append(password)
                    if let decoded = password.removingPercentEncoding, decoded != password { suspects.append(decoded) }
                    // libpq may split an unescaped "@" differently; mask each side of it too.
                    suspects += password.split(separator: "@").map(String.init)
                }
            }
        }
        var rest = Substring(raw)
        while let key = rest.range(of: "password") {
            var value = rest[key.upperBound...].drop { $0 == " " }
            guard value.first == "=" else { rest = rest[key.upperBound...]; continue }
            value = value.dropFirst().drop { $0 == " " }
            let secret = value.first == "'" ? value.dropFirst().prefix { $0 != "'" } : value.prefix { $0 != " " && $0 != "&" }
            suspects.append(String(secret))
            rest = value.dropFirst(secret.count)
        }
        return suspects.filter { $0.count >= 3 }.sorted { $0.count > $1.count }
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
    /// libpq's messages span lines ("…failed: Connection refused\n\tIs the server running…"): one line, the
    /// parts kept apart.
    func oneLine() -> String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
    }

    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
