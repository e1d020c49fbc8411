import Foundation
import Testing
import TestSupport

@testable import Core

@Suite struct PostgresTests {
    @Test func parametersRoundTripThroughTextFormat() async throws {
        try await TestDatabase.withFresh { url in
            let db = Database(try ConnectionString(url), logger: Logger(level: .error))
            let tricky = "it's \"quoted\" \\ back; DROP TABLE x; -- 😀 Слава"
            let when = Date(timeIntervalSince1970: 1_727_604_864.25)
            let row = try await db.withConnection { conn in
                try conn.query(
                    "SELECT $1::text AS s, $2::bigint AS n, $3::boolean AS b, $4::text AS nothing, $5::bytea AS raw, $6::timestamptz AS t, $7::jsonb ->> 'k' AS j",
                    [tricky, Int64(-1_002_447_843_635), true, String?.none, Data([0, 1, 254, 255]), when, JSONText("{\"k\": \"v\"}")]
                ).first!
            }
            #expect(try row.decode("s", as: String.self) == tricky)
            #expect(try row.decode("n", as: Int64.self) == -1_002_447_843_635)
            #expect(try row.decode("b", as: Bool.self) == true)
            #expect(try row.decodeIfPresent("nothing", as: String.self) == nil)
            #expect(try row.decode("raw", as: Data.self) == Data([0, 1, 254, 255]))
            #expect(try row.decode("t", as: Date.self) == when)
            #expect(try row.decode("j", as: String.self) == "v")
        }
    }

    @Test func timestampsParseWhateverTheSessionTimeZone() throws {
        // 2024-09-29 14:14:24 UTC written in three server time zones.
        #expect(PostgresTimestamp.parse("2024-09-29 14:14:24+00") == Date(timeIntervalSince1970: 1_727_619_264))
        #expect(PostgresTimestamp.parse("2024-09-29 17:14:24+03") == Date(timeIntervalSince1970: 1_727_619_264))
        #expect(PostgresTimestamp.parse("2024-09-29 19:44:24.5+05:30") == Date(timeIntervalSince1970: 1_727_619_264.5))
    }

    @Test func failedStatementsCarrySQLState() async throws {
        try await TestDatabase.withFresh { url in
            let db = Database(try ConnectionString(url), logger: Logger(level: .error))
            try await db.withConnection { conn in _ = try conn.query("CREATE TABLE u (id int PRIMARY KEY)") }
            let duplicate = await #expect(throws: PostgresError.self) {
                try await db.withConnection { conn in
                    _ = try conn.query("INSERT INTO u VALUES ($1)", [1])
                    _ = try conn.query("INSERT INTO u VALUES ($1)", [1])
                }
            }
            #expect(duplicate?.sqlState == "23505")
            #expect(duplicate?.code == .queryFailed)
            let syntax = await #expect(throws: PostgresError.self) {
                try await db.withConnection { conn in _ = try conn.query("SELEC 1") }
            }
            #expect(syntax?.sqlState == "42601")
            #expect(syntax?.description.contains("SQLSTATE 42601") == true)
        }
    }

    @Test func transactionRollsBackWhenBodyThrows() async throws {
        struct Boom: Error {}
        try await TestDatabase.withFresh { url in
            let db = Database(try ConnectionString(url), logger: Logger(level: .error))
            try await db.withConnection { conn in _ = try conn.query("CREATE TABLE t (v int)") }
            await #expect(throws: Boom.self) {
                try await db.transaction { conn in
                    _ = try conn.query("INSERT INTO t VALUES (1)")
                    throw Boom()
                }
            }
            try await db.transaction { conn in _ = try conn.query("INSERT INTO t VALUES (2)") }
            let values = try await db.withConnection { conn in try conn.query("SELECT v FROM t").map { try $0.decode("v", as: Int.self) } }
            #expect(values == [2])
        }
    }

    @Test func reconnectsOnceAfterTheSessionIsKilled() async throws {
        try await TestDatabase.withFresh { url in
            let capture = LogCapture()
            let db = Database(try ConnectionString(url), logger: capture.logger)
            let admin = Database(try ConnectionString(url), logger: Logger(level: .error))
            let pid = try await db.withConnection { conn in try conn.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int.self) }
            try await admin.withConnection { conn in _ = try conn.query("SELECT pg_terminate_backend($1)", [pid]) }
            // The next statement finds the session dead, reconnects and succeeds.
            let newPID = try await db.withConnection { conn in try conn.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int.self) }
            #expect(newPID != pid)
            #expect(capture.lines.contains { $0.contains("reconnecting once") })

            // A transaction whose session dies before COMMIT is re-run on a new session.
            try await db.withConnection { conn in _ = try conn.query("CREATE TABLE t (v int)") }
            let pid2 = try await db.withConnection { conn in try conn.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int.self) }
            try await admin.withConnection { conn in _ = try conn.query("SELECT pg_terminate_backend($1)", [pid2]) }
            try await db.transaction { conn in _ = try conn.query("INSERT INTO t VALUES (7)") }
            let rows = try await db.withConnection { conn in try conn.query("SELECT v FROM t").map { try $0.decode("v", as: Int.self) } }
            #expect(rows == [7])
        }
    }

    @Test func connectionErrorsNameTheFixAndNeverThePassword() async throws {
        let secret = "hunter2-very-secret"
        let connection = try ConnectionString("postgres://mirror:\(secret)@127.0.0.1:1/app?sslmode=disable&connect_timeout=2")
        #expect(!connection.description.contains(secret))
        #expect(connection.description == "mirror@127.0.0.1:1/app sslmode=disable")
        let db = Database(connection, logger: Logger(level: .error), redactor: SecretRedactor())
        let error = await #expect(throws: PostgresError.self) {
            try await db.withConnection { conn in _ = try conn.query("SELECT 1") }
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains(secret) == false)
        #expect(error?.description.contains("DATABASE_URL") == true)
    }

    @Test func invalidConnectionStringsAreRejectedWithLibpqReason() {
        #expect(throws: PostgresError.self) { try ConnectionString("postgres://host:notaport/db?bogus_option=1") }
        #expect(throws: PostgresError.self) { try ConnectionString("host=localhost dbname") }
    }

    @Test func keywordAndURLFormsReachTheSameServer() async throws {
        let admin = try TestDatabase.adminURL()
        // The test cluster listens on a unix socket: host=/path in keyword form, ?host= in URL form.
        let host = admin.split(separator: " ").first { $0.hasPrefix("host=") }!.dropFirst(5)
        let url = "postgresql:///postgres?host=\(host)&user=postgres&sslmode=disable"
        for form in [admin, url] {
            let db = Database(try ConnectionString(form), logger: Logger(level: .error))
            let one = try await db.withConnection { conn in try conn.query("SELECT 1 AS one").first!.decode("one", as: Int.self) }
            #expect(one == 1)
        }
    }
}

@Suite struct ConnectionStringTests {
    @Test(arguments: [
        "postgres://bob:S3cretPW@[::1/mirror",
        "mysql://bob:S3cretPW@h/db",
        "postgres://bob:S3c@retPW@db.example.com:5432/db?sslmode=bogus",
        "host=h user=bob password=S3cretPW sslmode=bogus",
        "host=h user=bob password='S3cretPW' port=notaport",
        "postgres://bob:S3cretPW@h:99999/db",
        "postgres://bob:S3c%ZZretPW@localhost/db",
    ])
    func malformedStringsNeverEchoThePassword(raw: String) {
        let error = #expect(throws: PostgresError.self) { try ConnectionString(raw) }
        #expect(error?.code == .invalidConnectionString)
        for fragment in ["S3cretPW", "S3c@retPW", "retPW", "ZZret"] {
            #expect(error?.description.contains(fragment) == false, "\(error?.description ?? "")")
        }
    }

    @Test func suspectedPasswords() {
        #expect(ConnectionString.suspectedPasswords(in: "postgres://u:p%40ss@h/db").contains("p@ss"))
        #expect(ConnectionString.suspectedPasswords(in: "host=h password = secret1 user=u") == ["secret1"])
        #expect(ConnectionString.suspectedPasswords(in: "postgres://u@h/db").isEmpty)
    }
}
