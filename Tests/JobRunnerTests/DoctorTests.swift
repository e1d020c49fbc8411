import Foundation
import Testing
import TestSupport
import Core

/// `JobRunner doctor` run as an operator would, against a real database and the fake Bot API.
@Suite struct DoctorTests {
    func doctor(_ env: [String: String]) throws -> ProcessOutput {
        try ProcessRunner.run(Paths.jobRunner, ["doctor"], environment: env, directory: FileManager.default.temporaryDirectory)
    }

    func env(_ url: String, _ fake: FakeBotAPI, token: String? = nil) -> [String: String] {
        ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "telegram:\(fake.chat)", "TARGET_LANG": "en",
         "TELEGRAM_BOT_TOKEN": token ?? fake.token, "TELEGRAM_API_URL": fake.baseURL]
    }

    @Test func everyCheckPassesOnAGoodDeploymentAndNothingIsSent() async throws {
        try await TestDatabase.withMigrated { url, _ in
            let fake = try FakeBotAPI()
            let out = try doctor(env(url, fake))
            #expect(out.status == 0)
            let lines = out.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 6 && lines.allSatisfy { $0.hasPrefix("✓ ") })
            #expect(lines[1].hasPrefix("✓ database reachable (PostgreSQL 18."))
            #expect(lines[3] == "✓ pgvector 0.8.2 enabled")
            #expect(lines[4] == "✓ Telegram bot token valid (@mirror_test_bot)")
            #expect(lines[5] == "✓ bot may post in @mirror_dst")
            #expect(fake.recordedCalls.map(\.method) == ["getMe", "getChatMember"])
        }
    }

    @Test func aRejectedTokenIsACrossWithTheFixAndTheTokenIsNeverShown() async throws {
        try await TestDatabase.withMigrated { url, _ in
            let fake = try FakeBotAPI()
            let wrong = "987654321:AAWrongTokenWrongTokenWrongToken123"
            let out = try doctor(env(url, fake, token: wrong))
            #expect(out.status == 1)
            #expect(out.stdout.contains("✗ Telegram bot token valid — Unauthorized; set TELEGRAM_BOT_TOKEN to the token @BotFather gave"))
            #expect(!(out.stdout + out.stderr).contains("AAWrongTokenWrongTokenWrongToken123"))
        }
    }

    @Test func anIncompleteConfigurationIsACrossPerProblemAndTheDatabaseIsStillChecked() async throws {
        try await TestDatabase.withMigrated { url, _ in
            let out = try doctor(["DATABASE_URL": url])
            #expect(out.status == 1)
            let lines = out.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 6)
            #expect(lines[0].hasPrefix("✗ configuration — SRC_CHANNEL is not set; set it, e.g. SRC_CHANNEL="))
            #expect(lines[2].hasPrefix("✗ configuration — TARGET_LANG is not set"))
            #expect(lines[3].hasPrefix("✓ database reachable (PostgreSQL 18."))
            #expect(lines[5] == "✓ pgvector 0.8.2 enabled")
            // A wrong value (not a missing one) still leaves the database checked.
            let fake = try FakeBotAPI()
            var bad = env(url, fake)
            bad["HASHTAGS"] = "drop"
            let wrong = try doctor(bad).stdout.split(separator: "\n").map(String.init)
            #expect(wrong.first == "✗ configuration — HASHTAGS=drop is not a policy; use keep (the default) or translate")
            #expect(wrong.dropFirst().first?.hasPrefix("✓ database reachable (PostgreSQL 18.") == true)
        }
    }

    @Test func missingPgvectorIsACrossWithTheFix() async throws {
        try await TestDatabase.withMigrated { url, database in
            try await database.withConnection { conn in try conn.query("DROP EXTENSION vector") }
            let fake = try FakeBotAPI()
            let out = try doctor(env(url, fake))
            #expect(out.status == 1)
            #expect(out.stdout.contains("✗ pgvector enabled — the server has pgvector but the database does not use it; run `JobRunner migrate`"))
        }
    }

    @Test func theAnthropicKeyIsCheckedByTokenCountingAndAWrongOneIsACross() async throws {
        try await TestDatabase.withMigrated { url, _ in
            let fake = try FakeBotAPI()
            let good = "sk-ant-api03-GOOD-key-for-doctor-tests-0123"
            let anthropic = try LocalHTTPServer { request in
                guard request.path == "/v1/messages/count_tokens", request.headers["anthropic-version"] == "2023-06-01" else { return .json(404, "{}") }
                if request.headers["x-api-key"] != good {
                    return .json(401, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#)
                }
                return .json(200, #"{"input_tokens":8}"#)
            }
            var environment = env(url, fake)
            environment["ANTHROPIC_BASE_URL"] = anthropic.baseURL
            environment["ANTHROPIC_API_KEY"] = good
            let ok = try doctor(environment)
            #expect(ok.status == 0 && ok.stdout.contains("✓ Anthropic key valid for claude-haiku-5-5 (token counting answered)"))
            environment["ANTHROPIC_API_KEY"] = "sk-ant-api03-WRONG-key-for-doctor-tests-99"
            let wrong = try doctor(environment)
            #expect(wrong.status == 1)
            #expect(wrong.stdout.contains("✗ Anthropic key valid for claude-haiku-5-5 — Anthropic rejected ANTHROPIC_API_KEY (401)"))
            #expect(!wrong.stdout.contains("WRONG-key") && anthropic.requests.count == 2)
        }
    }

    @Test func anOpenAICompatibleServerIsCheckedForTheModel() async throws {
        try await TestDatabase.withMigrated { url, _ in
            let fake = try FakeBotAPI()
            // The shape Ollama and llama.cpp answer on GET /v1/models.
            let server = try LocalHTTPServer { request in
                guard request.method == "GET", request.path == "/v1/models" else { return .json(404, "{}") }
                return .json(200, #"{"object":"list","data":[{"id":"qwen2.5:7b","object":"model","created":1730000000,"owned_by":"library"}]}"#)
            }
            var environment = env(url, fake)
            environment["TRANSLATOR"] = "openai"
            environment["OPENAI_BASE_URL"] = server.baseURL + "/v1"  // with or without /v1
            environment["OPENAI_MODEL"] = "qwen2.5:7b"
            let ok = try doctor(environment)
            #expect(ok.status == 0 && ok.stdout.contains("✓ chat-completions server at \(server.baseURL) serves qwen2.5:7b"))
            environment["OPENAI_MODEL"] = "llama3.1:8b"
            let wrong = try doctor(environment)
            #expect(wrong.status == 1)
            #expect(wrong.stdout.contains("✗ chat-completions server at \(server.baseURL) serves llama3.1:8b — the server does not list OPENAI_MODEL=llama3.1:8b; it serves qwen2.5:7b"))
            environment["OPENAI_MODEL"] = nil
            let missing = try doctor(environment)
            #expect(missing.stdout.contains("✗ configuration — TRANSLATOR=openai needs OPENAI_MODEL; set it to a model the server serves, e.g. OPENAI_MODEL=qwen2.5:7b"))
        }
    }

    @Test func aBotThatMayNotPostIsACross() async throws {
        try await TestDatabase.withMigrated { url, _ in
            let fake = try FakeBotAPI()
            fake.memberships["@mirror_dst"] = ("member", false)
            let out = try doctor(env(url, fake))
            #expect(out.status == 1)
            #expect(out.stdout.contains("✗ bot may post in @mirror_dst — the bot is member there; make it an admin of @mirror_dst with the right to post messages"))
        }
    }

    @Test func anUnmigratedDatabaseAndAnUnreachableOneAreCrosses() async throws {
        try await TestDatabase.withFresh { url in
            let fake = try FakeBotAPI()
            let out = try doctor(env(url, fake))
            #expect(out.status == 1)
            #expect(out.stdout.contains("✗ database schema current — database schema is at version none, this build needs \(Migration.all.count); run `JobRunner migrate`"))
        }
        let fake = try FakeBotAPI()
        let out = try doctor(env("host=/nonexistent-socket-dir dbname=x user=postgres password=hunter2secret", fake))
        #expect(out.status == 1)
        #expect(out.stdout.contains("✗ database reachable — "))
        #expect(out.stdout.contains("check DATABASE_URL"))
        #expect(!out.stdout.contains("hunter2secret"))
    }
}
