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
            #expect(lines.count == 5 && lines.allSatisfy { $0.hasPrefix("✓ ") })
            #expect(lines[1].hasPrefix("✓ database reachable (PostgreSQL 18."))
            #expect(lines[3] == "✓ Telegram bot token valid (@mirror_test_bot)")
            #expect(lines[4] == "✓ bot may post in @mirror_dst")
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
