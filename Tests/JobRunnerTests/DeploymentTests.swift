import Foundation
import Testing
import TestSupport
import Core

/// The operator's path to Heroku and Supabase: setup_heroku.sh with a fake `heroku` on PATH, the shell
/// scripts' lint, the Supabase CLI migration files, and the pipeline through PgBouncer in transaction mode.
@Suite struct DeploymentTests {
    /// A folder with a fake `heroku` that records each call's arguments, NUL-separated, one call per file.
    struct FakeHeroku {
        let bin: URL
        let calls: URL
        init(in dir: URL) throws {
            bin = dir.appendingPathComponent("bin")
            calls = dir.appendingPathComponent("calls")
            try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: calls, withIntermediateDirectories: true)
            let script = """
                #!/usr/bin/env bash
                n=$(ls "\(calls.path)" | wc -l)
                printf '%s\\0' "$@" > "\(calls.path)/$n"
                """
            let url = bin.appendingPathComponent("heroku")
            try script.write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        /// The arguments of every call, in order.
        func recorded() throws -> [[String]] {
            let files = try FileManager.default.contentsOfDirectory(atPath: calls.path).sorted { Int($0)! < Int($1)! }
            return try files.map { name in
                let data = try Data(contentsOf: calls.appendingPathComponent(name))
                return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
            }
        }
    }

    func setup(_ arguments: [String], files: [String: String]) throws -> (ProcessOutput, [[String]]) {
        try withTemporary { dir in
            for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
            let heroku = try FakeHeroku(in: dir)
            let out = try ProcessRunner.run(URL(fileURLWithPath: "/bin/bash"), [Paths.repositoryRoot.appendingPathComponent("setup_heroku.sh").path] + arguments,
                                            environment: ["PATH": heroku.bin.path + ":/usr/bin:/bin"], directory: dir)
            return (out, try heroku.recorded())
        }
    }

    func withTemporary<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    static let base = """
        DATABASE_URL=postgres://postgres.abc:s3cretpass@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=require
        SRC_CHANNEL=botapi:@source_channel
        DST_CHANNEL=telegram:@mirror_channel
        TELEGRAM_BOT_TOKEN=123456789:AAHfakeTokenForTestsOnly0123456789ab

        """

    @Test func dotEnvWinsOverAppSettingsAndEverythingGoesInOneCall() throws {
        let (out, calls) = try setup(["--app", "my-mirror"], files: [
            "app_settings.env": "TARGET_LANG=de\nCLAUDE_MODEL=claude-haiku-5-5\n# a comment\nexport LOG_LEVEL=notice\n",
            ".env": Self.base + "TARGET_LANG=en\n",
        ])
        #expect(out.status == 0)
        #expect(out.stdout == "configured 7 variables on my-mirror\n")
        #expect(calls.count == 1)
        #expect(calls[0] == [
            "config:set", "--app", "my-mirror", "TARGET_LANG=en", "CLAUDE_MODEL=claude-haiku-5-5", "LOG_LEVEL=notice",
            "DATABASE_URL=postgres://postgres.abc:s3cretpass@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=require",
            "SRC_CHANNEL=botapi:@source_channel", "DST_CHANNEL=telegram:@mirror_channel", "TELEGRAM_BOT_TOKEN=123456789:AAHfakeTokenForTestsOnly0123456789ab",
        ])
    }

    @Test func everyMissingVariableIsListedAndNothingIsSent() throws {
        let (out, calls) = try setup(["--app", "my-mirror"], files: [".env": "SRC_CHANNEL=botapi:@source_channel\nDST_CHANNEL=@mirror_channel\nbroken line\n"])
        #expect(out.status == 1)
        #expect(out.stderr == """
            error: .env line 3 is not KEY=VALUE; fix or remove it
            error: DATABASE_URL is not set in .env or app_settings.env
            error: TARGET_LANG is not set in .env or app_settings.env
            error: TELEGRAM_BOT_TOKEN is not set in .env or app_settings.env

            """)
        #expect(calls.isEmpty)
    }

    @Test func dryRunMasksSecretsAndSendsNothing() throws {
        let (out, calls) = try setup(["--app", "my-mirror", "--dry-run"], files: [".env": Self.base + "TARGET_LANG=en\nANTHROPIC_API_KEY=sk-ant-api03-secret\n"])
        #expect(out.status == 0)
        #expect(calls.isEmpty)
        #expect(out.stdout.contains("  DATABASE_URL=****\n") && out.stdout.contains("  TELEGRAM_BOT_TOKEN=****\n") && out.stdout.contains("  ANTHROPIC_API_KEY=****\n"))
        #expect(out.stdout.contains("  TARGET_LANG=en\n"))
        for secret in ["s3cretpass", "AAHfakeTokenForTestsOnly", "sk-ant-api03-secret"] { #expect(!out.stdout.contains(secret)) }
    }

    @Test func valuesWithSpacesEqualsQuotesAndNewlinesArriveIntact() throws {
        let (out, calls) = try setup(["--app=my-mirror"], files: [".env": Self.base + """
            TARGET_LANG=en
            STYLE="formal,  no slang"
            EQUALS=a=b=c
            SINGLE='say "hi" $HOME'
            DOUBLE="say \\"hi\\" twice"
            LINES="first\\nsecond"

            """])
        #expect(out.status == 0)
        let set = Set(try #require(calls.first))
        #expect(set.isSuperset(of: ["STYLE=formal,  no slang", "EQUALS=a=b=c", "SINGLE=say \"hi\" $HOME", "DOUBLE=say \"hi\" twice", "LINES=first\nsecond"]))
    }

    @Test func reservedNamesAndAMissingAppAreRefused() throws {
        let (out, calls) = try setup(["--app", "x"], files: [".env": Self.base + "TARGET_LANG=en\nHEROKU_APP_NAME=x\n"])
        #expect(out.status == 1 && out.stderr == "error: .env line 6: HEROKU_APP_NAME is reserved by Heroku; rename it\n" && calls.isEmpty)
        let (usage, none) = try setup([], files: [:])
        #expect(usage.status == 64 && usage.stderr.hasPrefix("error: --app NAME is required") && none.isEmpty)
    }

    @Test func shellScriptsAreShellcheckClean() throws {
        let root = Paths.repositoryRoot
        let scripts = ["setup_heroku.sh"] + (try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("scripts").path))
            .filter { $0.hasSuffix(".sh") }.map { "scripts/" + $0 }
        let out = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/shellcheck"), ["-x"] + scripts, directory: root)
        #expect(out.status == 0, "\(out.stdout)")
        #expect(scripts.count >= 7)
    }

    @Test func supabaseMigrationFilesAreTheBuildsMigrations() throws {
        try withTemporary { dir in
            let out = try ProcessRunner.run(Paths.jobRunner, ["migrate", "--emit-supabase", dir.path])
            #expect(out.status == 0)
            let committed = Paths.repositoryRoot.appendingPathComponent("supabase/migrations")
            let names = try FileManager.default.contentsOfDirectory(atPath: committed.path).sorted()
            #expect(names == Migration.all.map(\.supabaseFile.name))
            for name in names {
                let generated = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                #expect(try String(contentsOf: committed.appendingPathComponent(name), encoding: .utf8) == generated,
                        "\(name) differs; run `JobRunner migrate --emit-supabase supabase/migrations`")
            }
        }
    }

    @Test func aDatabaseMigratedByTheSupabaseFilesIsCurrentForJobRunner() async throws {
        try await TestDatabase.withFresh { url in
            let psql = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TEST_PG_BIN"]!).appendingPathComponent("psql")
            let committed = Paths.repositoryRoot.appendingPathComponent("supabase/migrations")
            // As `supabase db push` does: each file once, in order, in its own transaction.
            for name in try FileManager.default.contentsOfDirectory(atPath: committed.path).sorted() {
                let out = try ProcessRunner.run(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", url, "-f", committed.appendingPathComponent(name).path])
                #expect(out.status == 0, "\(name): \(out.stderr)")
            }
            let migrate = try ProcessRunner.run(Paths.jobRunner, ["migrate"], environment: ["DATABASE_URL": url])
            #expect(migrate.stdout.contains("outcome=ok applied=0 schema_version=\(Migration.all.count)"))
            // And the other way round: a file already applied by JobRunner says how to reconcile the ledger.
            let again = try ProcessRunner.run(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", url, "-f",
                                                     committed.appendingPathComponent(Migration.all[0].supabaseFile.name).path])
            #expect(again.status != 0 && again.stderr.contains("supabase migration repair --status applied"))
        }
    }

    @Test(arguments: ["ru", "zh"])
    func theReleaseBuildTranslatesARealExportThroughClaudeInBatchedRequests(export: String) async throws {
        // Heroku runs the release build; the optimiser once garbled results of concurrent requests there.
        let claude = try EchoAnthropic()
        let path = try (export == "ru" ? Paths.russianExport : Paths.chineseExport).path
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(path)", "DST_CHANNEL": "files:\(dir.path)/out", "TARGET_LANG": "en",
                           "ANTHROPIC_API_KEY": "sk-ant-release-0001", "ANTHROPIC_BASE_URL": claude.baseURL, "TRANSLATE_BATCH_API_THRESHOLD": "0",
                           "LOG_LEVEL": "warning"]
                let bin = try Paths.releaseJobRunner
                #expect(try ProcessRunner.run(bin, ["migrate"], environment: env).status == 0)
                let all = try ProcessRunner.run(bin, ["all"], environment: env)
                #expect(all.status == 0, "\(all.stderr)")
                let translated = export == "ru" ? 1195 : 673
                #expect(all.stdout.contains(" translated=\(translated) ") && all.stdout.contains(" failed=0 ") && all.stdout.contains(" waiting=0"), "\(all.stdout)")
                // The echo model returns each post as its translation: every published text is its source's.
                let items = try FileDestination(directory: dir.path + "/out").readRecords().flatMap(\.items)
                #expect(!items.isEmpty && items.allSatisfy { $0.published.text == $0.source.text && Set($0.published.entities) == Set($0.source.entities) })
                #expect(claude.requests * 10 <= translated)  // several posts per request
            }
        }
    }

    @Test func thePipelineRunsThroughPgBouncerInTransactionModeAsItDoesDirectly() async throws {
        let bouncer = try #require(ProcessInfo.processInfo.environment["TEST_PGBOUNCER_URL"])
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let name = url.components(separatedBy: "dbname=")[1].components(separatedBy: " ")[0]
                let pooled = bouncer.replacingOccurrences(of: "dbname=postgres", with: "dbname=\(name)")
                let env = ["DATABASE_URL": pooled, "SRC_CHANNEL": "export:\(try Paths.russianExport.path)", "DST_CHANNEL": "files:\(dir.path)/out",
                           "TARGET_LANG": "en", "LOG_LEVEL": "warning"]
                #expect(try ProcessRunner.run(Paths.jobRunner, ["migrate"], environment: env).status == 0)
                let all = try ProcessRunner.run(Paths.jobRunner, ["all"], environment: env)
                #expect(all.status == 0, "\(all.stderr)")
                #expect(all.stdout.contains("fetched=3717") && all.stdout.contains("published=3717") && all.stdout.contains("translated=1195"))
                // The server saw only the pooler's connections, and every post went out once.
                let records = try FileDestination(directory: dir.path + "/out").readRecords()
                #expect(records.flatMap(\.items).count == 3717)
                let again = try ProcessRunner.run(Paths.jobRunner, ["all"], environment: env)
                #expect(again.status == 0 && again.stdout.contains("published=0"))
                let status = try ProcessRunner.run(Paths.jobRunner, ["status", "--json"], environment: env)
                #expect(status.status == 0 && status.stdout.contains("\"published\" : 3717"))
            }
        }
    }

    @Test func appJsonDeclaresTheStackBuildpackFormationAndOnlyKnownVariables() throws {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: Paths.repositoryRoot.appendingPathComponent("app.json"))) as! [String: Any]
        #expect(root["stack"] as? String == "heroku-24")  // Swift cannot be installed on heroku-26 yet
        #expect((root["buildpacks"] as? [[String: String]])?.map { $0["url"] } == ["vapor/vapor"])
        #expect(((root["formation"] as? [String: Any])?["worker"] as? [String: Any])?["quantity"] as? Int == 1)
        #expect((root["addons"] as? [String]) == ["scheduler:standard"])
        let env = root["env"] as! [String: [String: Any]]
        let known = Set(Config.variables.map(\.name))
        #expect(Set(env.keys).isSubset(of: known))
        for name in ["DATABASE_URL", "SRC_CHANNEL", "DST_CHANNEL", "TARGET_LANG", "TELEGRAM_BOT_TOKEN"] {
            #expect(env[name]?["required"] as? Bool == true, "\(name) is required")
        }
        #expect(env.values.allSatisfy { ($0["description"] as? String)?.isEmpty == false })
        let version = try String(contentsOf: Paths.repositoryRoot.appendingPathComponent(".swift-version"), encoding: .utf8)
        #expect(version.range(of: #"^6\.\d+\.\d+\n$"#, options: .regularExpression) != nil)
        let procfile = try String(contentsOf: Paths.repositoryRoot.appendingPathComponent("Procfile"), encoding: .utf8)
        #expect(procfile == "release: JobRunner migrate\nworker: JobRunner all --every 30s\n")
    }
}
