import Foundation
import Testing
import TestSupport
import Core

/// Recognisable fake secrets through a whole deployment's commands, with services that echo them back in
/// their errors: not one byte of any output, and nothing stored in the database, may carry them.
@Suite struct SecretsTests {
    static let dbPassword = "pw-RECOGNISABLE-database-secret-7731"
    static let botSecret = "AAHrecognisableBotSecret0123456789xy"
    static let anthropicKey = "sk-ant-api03-RECOGNISABLE-anthropic-key-5521"

    @Test func noSecretReachesAnyOutputOrAnyStoredRow() async throws {
        try await TestDatabase.withMigrated { url, database in
            try await Paths.withTemporaryDirectory { dir in
                let token = "987654321:" + Self.botSecret
                let fake = try FakeBotAPI(token: token)
                // A hostile or careless server quotes the request back, token-bearing path included.
                fake.script(.reply(status: 403, body: #"{"ok":false,"error_code":403,"description":"Forbidden: request /bot"# + token + #"/sendMessage denied"}"#), atCall: 1)
                let anthropic = try LocalHTTPServer { request in
                    .json(401, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key \#(request.headers["x-api-key"] ?? "")"}}"#)
                }
                var outputs: [String] = []
                let base = [
                    "DATABASE_URL": url + " password=\(Self.dbPassword)", "SRC_CHANNEL": "export:\(Paths.sampleExport.path)",
                    "DST_CHANNEL": "telegram:\(fake.chat)", "TARGET_LANG": "en", "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": fake.baseURL,
                    "LOG_LEVEL": "trace",
                ]
                func run(_ arguments: [String], _ env: [String: String] = base) throws -> ProcessOutput {
                    let out = try ProcessRunner.run(Paths.jobRunner, arguments, environment: env)
                    outputs.append(out.stdout + out.stderr)
                    return out
                }
                #expect(try run(["all"]).status == 1)  // the 403 fails the route…
                #expect(try run(["all"]).status == 0)  // …and the next run publishes
                var withClaude = base
                withClaude["ANTHROPIC_API_KEY"] = Self.anthropicKey
                withClaude["ANTHROPIC_BASE_URL"] = anthropic.baseURL
                withClaude["TARGET_LANG"] = "de"  // a second route, so Claude is asked and refuses the key
                #expect(try run(["all"], withClaude).status == 1)
                for arguments in [["status"], ["status", "--json"], ["report", "--format", "table"], ["report", "--format", "json"],
                                  ["report", "--format", "csv"], ["report", "--format", "html"], ["doctor"], ["retry", "999999"], ["--help"]] {
                    _ = try run(arguments)
                }
                _ = try run(["doctor"], withClaude)
                let dump = try await database.withConnection { conn in
                    let tables = try conn.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'mirror'").map { try $0.decode("table_name", as: String.self) }
                    return try tables.map { table in
                        try conn.query("SELECT COALESCE(string_agg(row_to_json(t)::text, E'\\n'), '') AS rows FROM mirror.\(table) t").first!.decode("rows", as: String.self)
                    }.joined(separator: "\n")
                }
                let everything = outputs.joined(separator: "\n") + dump
                #expect(everything.contains("[REDACTED]"))  // the secrets were there to be masked
                // The echoed path reached the operator, with the token masked (so the test saw a secret to mask).
                #expect(outputs.joined().contains("Forbidden: request /bot987654321:[REDACTED]/sendMessage denied"))
                #expect(fake.recordedCalls.count > 1)
                for secret in [Self.dbPassword, Self.botSecret, Self.anthropicKey] {
                    #expect(!everything.contains(secret), "\(secret) leaked")
                }
                #expect(dump.contains("translation_failed") || dump.contains("authentication_error") || outputs.joined().contains("ANTHROPIC_API_KEY"))
            }
        }
    }
}
