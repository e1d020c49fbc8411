import Foundation
import Testing
import TestSupport
import Core

/// The built `JobRunner` binary, run as an operator would run it.
@Suite struct CommandLineTests {
    func run(_ arguments: [String], env: [String: String] = [:], in directory: URL? = nil) throws -> ProcessOutput {
        try ProcessRunner.run(Paths.jobRunner, arguments, environment: env, directory: directory ?? FileManager.default.temporaryDirectory)
    }

    @Test func glossaryImportsAndExportsCSVPerLanguagePair() async throws {
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = ["DATABASE_URL": url, "SOURCE_LANG": "uk", "TARGET_LANG": "en"]
                #expect(try run(["migrate"], env: env).status == 0)
                let csv = dir.appendingPathComponent("terms.csv")
                // Excel's byte-order mark, a header, quoting with a comma and doubled quotes, a blank line.
                try Data("\u{FEFF}source,target,note\nТривога,Alert,\"air-raid alert, not \"\"anxiety\"\"\"\n\nКиїв,Kyiv\n".utf8).write(to: csv)
                let imported = try run(["glossary", "import", csv.path], env: env)
                #expect(imported.status == 0)
                #expect(imported.stdout == "imported 2 term(s) for uk→en; the glossary now holds 2\n")
                let exported = try run(["glossary", "export"], env: env)
                #expect(exported.stdout == "source,target,note\r\nКиїв,Kyiv,\r\nТривога,Alert,\"air-raid alert, not \"\"anxiety\"\"\"\r\n")
                // Another pair is another glossary.
                #expect(try run(["glossary", "export", "--from", "ru"], env: env).stdout == "source,target,note\r\n")
                // The same term in other letter case updates it; --replace drops what the file lacks.
                try Data("тривога,Air alert\n".utf8).write(to: csv)
                #expect(try run(["glossary", "import", csv.path, "--replace"], env: env).stdout == "imported 1 term(s) for uk→en; the glossary now holds 1\n")
                #expect(try run(["glossary", "export"], env: env).stdout == "source,target,note\r\nтривога,Air alert,\r\n")
                // A broken file is refused whole, with the row and the fix.
                try Data("a,b\nc\n".utf8).write(to: csv)
                let broken = try run(["glossary", "import", csv.path], env: env)
                #expect(broken.status == 1)
                #expect(broken.stderr.contains("row 2 has 1 field; each row is source,target or source,target,note; nothing was imported"))
                #expect(try run(["glossary", "export"], env: env).stdout == "source,target,note\r\nтривога,Air alert,\r\n")
                // `-` reads stdin (`heroku run --no-tty JobRunner glossary import - < terms.csv`).
                let piped = try ProcessRunner.run(Paths.jobRunner, ["glossary", "import", "-", "--to", "de"], environment: env, input: Data("Київ,Kyjiw\n".utf8))
                #expect(piped.stdout == "imported 1 term(s) for uk→de; the glossary now holds 1\n")
                // An empty stdin with --replace would wipe the pair: refused, nothing changes.
                let empty = try ProcessRunner.run(Paths.jobRunner, ["glossary", "import", "-", "--replace"], environment: env, input: Data())
                #expect(empty.status == 1 && empty.stderr.contains("stdin holds no terms (rows source,target[,note]); nothing was imported"))
                #expect(try run(["glossary", "export"], env: env).stdout == "source,target,note\r\nтривога,Air alert,\r\n")
                // A Windows-1252 file from Excel, a missing file, a pair of one language: refused with the fix.
                try Data([0x63, 0x61, 0x66, 0xE9, 0x2C, 0x63, 0x6F, 0x66, 0x66, 0x65, 0x65, 0x0A]).write(to: csv)  // "café,coffee" in cp1252
                let latin = try run(["glossary", "import", csv.path], env: env)
                #expect(latin.status == 1 && latin.stderr.contains("terms.csv is not UTF-8 text; save it as \"CSV UTF-8\" (Excel) or convert it"))
                let missingFile = try run(["glossary", "import", dir.appendingPathComponent("nope.csv").path], env: env)
                #expect(missingFile.status == 1 && missingFile.stderr.contains("cannot read") && missingFile.stderr.contains("nope.csv ("))
                let samePair = try run(["glossary", "export", "--from", "en"], env: env)
                #expect(samePair.status == 64 && samePair.stderr.contains("glossary en→en translates a language into itself"))
                #expect(try run(["glossary", "export", "--to", "fr"], env: env).stderr.contains("note: the glossary uk→fr holds no terms"))
                // Settings of other commands do not stop the glossary (or status) commands.
                var unrelated = env
                unrelated["HASHTAGS"] = "drop"
                #expect(try run(["glossary", "export"], env: unrelated).status == 0)
                #expect(try run(["status"], env: unrelated).status == 0)
                let unpaired = try run(["glossary", "export"], env: ["DATABASE_URL": url, "TARGET_LANG": "en"])
                #expect(unpaired.status == 64)
                #expect(unpaired.stderr.contains("glossary needs the source language: pass --from uk or set SOURCE_LANG"))
            }
        }
    }

    @Test func helpListsEveryCommandAndVariable() throws {
        let out = try run(["--help"])
        #expect(out.status == 0)
        for word in ["fetch", "translate-pending", "publish", "all", "migrate", "--every", "DATABASE_URL", "SRC_CHANNEL", "DST_CHANNEL", "TARGET_LANG", "ANTHROPIC_API_KEY", "CLAUDE_MODEL", "LOG_LEVEL"] {
            #expect(out.stdout.contains(word), "help mentions \(word)")
        }
    }

    @Test(arguments: ["fetch", "translate-pending", "publish", "aggregate-analytics", "all", "status", "report", "retry", "skip", "migrate", "doctor", "glossary"])
    func everyCommandHasHelp(command: String) throws {
        let out = try run([command, "--help"])
        #expect(out.status == 0)
        #expect(out.stdout.hasPrefix("USAGE: JobRunner \(command)"))
    }

    @Test(arguments: [
        (["frobnicate"], "unknown command frobnicate"),
        (["fetch", "--verbose"], "unknown option --verbose"),
        (["all", "--every"], "--every needs a value, e.g. --every 30s"),
        (["all", "--every", "soon"], "invalid duration soon"),
        (["migrate", "--every", "30s"], "--every cannot be used with migrate"),
        (["fetch", "publish"], "unexpected argument publish"),
        (["all", "--every", "30s", "--every=5s"], "--every is given more than once"),
        (["report", "--since", "5x"], "invalid --since 5x; use e.g. 7d, 24h, 30d"),
        (["report", "--format", "pdf"], "unknown format pdf; use one of table, json, csv, html"),
        (["status", "--since", "7d"], "--since cannot be used with status"),
        (["publish", "--json"], "--json cannot be used with publish"),
        (["retry"], "retry needs a post id"),
        (["glossary"], "glossary needs an action: `glossary import FILE` or `glossary export [FILE]`"),
        (["glossary", "merge"], "unknown glossary action merge"),
        (["glossary", "import"], "glossary import needs a CSV file"),
        (["glossary", "export", "--replace"], "--replace cannot be used with glossary"),
        (["glossary", "export", "--from", "xx_1"], "--from xx_1 is not a language code; use e.g. --from uk"),
        (["skip", "abc"], "abc is not a post id"),
        (["skip", "4", "--route", "x"], "--route needs a route id"),
        (["all", "--max-runtime", "5s"], "--max-runtime must be at least 10s"),
        (["migrate", "--max-runtime", "9m"], "--max-runtime cannot be used with migrate"),
        (["doctor", "--every", "30s"], "--every cannot be used with doctor"),
    ])
    func usageErrorsExit64(arguments: [String], message: String) throws {
        let out = try run(arguments)
        #expect(out.status == 64)
        #expect(out.stderr.hasPrefix("error: \(message)"))
    }

    @Test func noCommandPrintsUsageAndExits64() throws {
        let out = try run([])
        #expect(out.status == 64)
        #expect(out.stdout.contains("USAGE: JobRunner <command>"))
    }

    @Test func missingConfigurationListsEveryProblemAndExits78() throws {
        let out = try run(["all"])
        #expect(out.status == 78)
        let lines = out.stderr.split(separator: "\n")
        #expect(lines.first == "error: all failed: configuration is invalid:")
        #expect(lines.count == 5)
        for name in ["DATABASE_URL", "SRC_CHANNEL", "DST_CHANNEL", "TARGET_LANG"] {
            #expect(lines.contains { $0.hasPrefix("  - \(name) is not set") })
        }
    }

    @Test func unreachableDatabaseFailsWithOneLineAndNoPassword() throws {
        let out = try run(["migrate"], env: ["DATABASE_URL": "postgres://mirror:pa55-w0rd-secret@127.0.0.1:1/db?connect_timeout=2"])
        #expect(out.status == 1)
        #expect(!out.combined.contains("pa55-w0rd-secret"))
        #expect(out.stderr.hasPrefix("error: migrate failed: postgres connectionFailed: cannot connect to mirror@127.0.0.1:1/db"))
        #expect(out.stderr.contains("check DATABASE_URL"))
        #expect(out.stderr.split(separator: "\n").count == 1)
    }

    @Test func jobsRefuseAnUnmigratedDatabase() async throws {
        try await TestDatabase.withFresh { url in
            let out = try run(["fetch"], env: ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:/tmp/x", "TARGET_LANG": "en"])
            #expect(out.status == 1)
            #expect(out.stderr == "error: fetch failed: database schema is at version none, this build needs \(Migration.all.count); run `JobRunner migrate`\n")
        }
    }

    @Test func databaseNewerThanTheBuildSaysSo() async throws {
        try await TestDatabase.withFresh { url in
            let env = ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:/tmp/x", "TARGET_LANG": "en"]
            #expect(try run(["migrate"], env: env).status == 0)
            let db = Database(try ConnectionString(url), logger: Logger(level: .error))
            try await db.withConnection { conn in _ = try conn.query("INSERT INTO mirror.schema_migrations (version, name) VALUES (99, 'future')") }
            let out = try run(["publish"], env: env)
            #expect(out.status == 1)
            #expect(out.stderr == "error: publish failed: database schema is at version 99, newer than this build's \(Migration.all.count); deploy the release that migrated it\n")
        }
    }

    @Test func aRunWhereEveryTranslationFailsIsAFailure() async throws {
        let server = try LocalHTTPServer { _ in
            .json(400, #"{"type":"error","error":{"type":"invalid_request_error","message":"model: unknown model"},"request_id":"req_012"}"#)
        }
        defer { server.stop() }
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = [
                    "DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out",
                    "TARGET_LANG": "en", "ANTHROPIC_API_KEY": "sk-ant-fake-0000", "ANTHROPIC_BASE_URL": server.baseURL,
                ]
                #expect(try run(["migrate"], env: env).status == 0)
                #expect(try run(["fetch"], env: env).status == 0)
                let out = try run(["translate-pending"], env: env)
                #expect(out.status == 1)
                #expect(out.stdout.contains("summary=\"outcome=failed batched=0 failed=6 translated=0\""))
            }
        }
    }

    @Test func missingExportIsAClearFailure() async throws {
        try await TestDatabase.withFresh { url in
            let env = ["DATABASE_URL": url, "SRC_CHANNEL": "export:/nonexistent/result.json", "DST_CHANNEL": "files:/tmp/x", "TARGET_LANG": "en"]
            #expect(try run(["migrate"], env: env).status == 0)
            let out = try run(["fetch"], env: env)
            #expect(out.status == 1)
            #expect(out.stderr.hasPrefix("error: fetch failed for default route (export:/nonexistent/result.json): cannot read Telegram export /nonexistent/result.json: file not found or unreadable; export the channel"))
            #expect(out.stdout.contains("summary=\"outcome=failed edited=0 fetch_held=0 fetched=0\""))
        }
    }

    @Test func migrateThenAllPrintsOneSummaryLineAndRerunPublishesNothing() async throws {
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out", "TARGET_LANG": "de"]
                let migrate = try run(["migrate"], env: env)
                #expect(migrate.status == 0)
                #expect(migrate.stdout.contains("msg=\"run finished\" job=migrate outcome=ok applied=\(Migration.all.count) schema_version=\(Migration.all.count)"))
                let first = try run(["all"], env: env)
                #expect(first.status == 0)
                #expect(first.stderr.isEmpty)
                let summary = first.stdout.split(separator: "\n").filter { $0.contains("msg=\"run finished\"") }
                #expect(summary.count == 1)
                #expect(summary.first?.contains("summary=\"outcome=ok batched=0 edited=0 edits_published=0 failed=0 fetch_held=0 fetched=10 in_flight=0 parked=0 publish_held=0 published=10 resting=0 rollup_days=") == true)
                #expect(summary.first?.contains(" translated=6 waiting=0\"") == true)
                #expect(first.stdout.contains("msg=starting job=all") && first.stdout.contains("translator=pseudo"))
                #expect(summary.first?.contains("duration_s=") == true)
                #expect(first.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("ts=") })
                let journal = try String(contentsOf: dir.appendingPathComponent("out/publications.jsonl"), encoding: .utf8)
                #expect(journal.split(separator: "\n").count == 8)
                #expect(journal.contains("[→de] Добро пожаловать"))
                let second = try run(["all"], env: env)
                #expect(second.stdout.contains("summary=\"outcome=ok batched=0 edited=0 edits_published=0 failed=0 fetch_held=0 fetched=0 in_flight=0 parked=0 publish_held=0 published=0 resting=0 rollup_days=0 rollup_hours=0 set_aside=0 translated=0 waiting=0\""))
            }
        }
    }

    @Test func settingsComeFromDotEnvFilesInTheWorkingDirectory() async throws {
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                try "DATABASE_URL='\(url)'\nTARGET_LANG=fr\n".write(to: dir.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
                try "SRC_CHANNEL=export:\(Paths.sampleExport.path)\nDST_CHANNEL=files:out\nTARGET_LANG=es\nLOG_LEVEL=warning\n"
                    .write(to: dir.appendingPathComponent("app_settings.env"), atomically: true, encoding: .utf8)
                #expect(try run(["migrate"], env: [:], in: dir).status == 0)
                let out = try run(["all"], env: [:], in: dir)
                #expect(out.status == 0)
                // LOG_LEVEL=warning from app_settings.env silences info lines; the summary line always shows.
                #expect(out.stdout.split(separator: "\n").count == 1)
                #expect(out.stdout.contains("msg=\"run finished\" job=all summary=\"outcome=ok"))
                let journal = try String(contentsOf: dir.appendingPathComponent("out/publications.jsonl"), encoding: .utf8)
                #expect(journal.contains("[→fr] "))  // .env beats app_settings.env
            }
        }
    }

    @Test func loopStopsCleanlyOnSIGTERM() async throws {
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out", "TARGET_LANG": "en", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""]
                #expect(try run(["migrate"], env: env).status == 0)
                let process = Process()
                process.executableURL = Paths.jobRunner
                process.arguments = ["all", "--every", "1s"]
                process.environment = env
                let out = Pipe()
                process.standardOutput = out
                process.standardError = Pipe()
                try process.run()
                // Wait until the first iteration has finished, then ask it to stop.
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline, (try? String(contentsOf: dir.appendingPathComponent("out/publications.jsonl"), encoding: .utf8))?.split(separator: "\n").count != 8 {
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await Task.sleep(for: .milliseconds(1500))
                let stopAt = Date()
                process.terminate()  // SIGTERM
                process.waitUntilExit()
                let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(process.terminationStatus == 0)
                #expect(Date().timeIntervalSince(stopAt) < 10)
                #expect(stdout.contains("msg=\"run finished\" job=all outcome=stopped"))
                #expect(stdout.contains("iteration=2"))
                let journal = try String(contentsOf: dir.appendingPathComponent("out/publications.jsonl"), encoding: .utf8)
                #expect(journal.split(separator: "\n").count == 8)
            }
        }
    }

    @Test func badAnthropicKeyStopsTheRunNamingTheVariableNeverTheKey() async throws {
        let key = "sk-ant-api03-FAKE-recognisable-secret-0123456789"
        let server = try LocalHTTPServer { _ in
            .json(401, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011"}"#)
        }
        defer { server.stop() }
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = [
                    "DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out",
                    "TARGET_LANG": "en", "ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": server.baseURL, "LOG_LEVEL": "trace",
                ]
                #expect(try run(["migrate"], env: env).status == 0)
                let out = try run(["all"], env: env)
                #expect(out.status == 1)
                #expect(out.stderr.contains("set a valid ANTHROPIC_API_KEY"))
                #expect(!out.combined.contains(key))
                #expect(server.requests.first?.headers["x-api-key"] == key)
            }
        }
    }

    @Test func operatorCommandsNeedOnlyTheDatabaseAndWriteCleanDocuments() async throws {
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = ["DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out", "TARGET_LANG": "de"]
                #expect(try run(["migrate"], env: env).status == 0)
                #expect(try run(["fetch"], env: env).status == 0)
                let dbOnly = ["DATABASE_URL": url]

                let status = try run(["status"], env: dbOnly)
                #expect(status.status == 0)
                #expect(status.stdout.hasPrefix("status at "))
                #expect(status.stdout.contains("translate  6 waiting, 0 parked"))
                #expect(status.stdout.contains("fetch "))
                #expect(status.stdout.contains("fetch                ok"))

                let statusJSON = try run(["status", "--json"], env: dbOnly)
                let document = try JSONSerialization.jsonObject(with: Data(statusJSON.stdout.utf8)) as! [String: Any]
                #expect(((document["routes"] as! [[String: Any]])[0]["awaiting_translation"] as? Int) == 6)

                #expect(try run(["all"], env: env).status == 0)
                let html = try run(["report", "--format", "html"], env: dbOnly)
                #expect(html.status == 0)
                #expect(html.stdout.hasPrefix("<!doctype html>") && html.stdout.hasSuffix("</html>\n"))
                #expect(html.stdout.contains("<b>10</b><span>published</span>"))
                let csv = try run(["report", "--since", "24h", "--format=csv"], env: dbOnly)
                #expect(csv.status == 0)
                #expect(csv.stdout.split(separator: "\n").first?.hasPrefix("bucket_start,route_id,fetched") == true)
                let table = try run(["report"], env: dbOnly)
                #expect(table.stdout.contains("all routes"))

                let postID = try await Database(try ConnectionString(url), logger: Logger(level: .error)).withConnection { conn in
                    try conn.query("SELECT id FROM mirror.posts WHERE message_id = 2").first!.decode("id", as: Int64.self)
                }
                let retry = try run(["retry", String(postID)], env: dbOnly)
                #expect(retry.status == 1)
                #expect(retry.stderr == "error: post \(postID) is neither parked, failed, uncertain nor skipped, so there is nothing to retry; `JobRunner status` lists parked posts\n")
                let skip = try run(["skip", "999999"], env: dbOnly)
                #expect(skip.status == 1)
                #expect(skip.stderr.hasPrefix("error: there is no post 999999"))
            }
        }
    }
}

@Suite struct ShutdownTests {
    @Test func sigtermAbandonsARequestThatNeverAnswers() async throws {
        let server = try LocalHTTPServer { _ in .delay(60, then: .init(status: 500)) }
        defer { server.stop() }
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = [
                    "DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out",
                    "TARGET_LANG": "en", "ANTHROPIC_API_KEY": "sk-ant-fake-0001", "ANTHROPIC_BASE_URL": server.baseURL,
                    "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "",
                ]
                #expect(try ProcessRunner.run(Paths.jobRunner, ["migrate"], environment: env).status == 0)
                let process = Process()
                process.executableURL = Paths.jobRunner
                process.arguments = ["all"]
                process.environment = env
                let out = Pipe()
                process.standardOutput = out
                process.standardError = Pipe()
                try process.run()
                // Wait until the request is in flight, then stop.
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline, server.requests.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
                #expect(!server.requests.isEmpty)
                let stopAt = Date()
                process.terminate()
                process.waitUntilExit()
                let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(process.terminationStatus == 0)
                #expect(Date().timeIntervalSince(stopAt) < 10)
                #expect(stdout.contains("summary=\"outcome=stopped\""))
                // The abandoned request is not a failure of the post.
                let db = Database(try ConnectionString(url), logger: Logger(level: .error))
                let failures = try await db.withConnection { conn in try conn.query("SELECT count(*) AS n FROM mirror.translation_failures").first!.decode("n", as: Int.self) }
                #expect(failures == 0)
            }
        }
    }

    @Test func maxRuntimeEndsALoopCleanlyAndAHungRequestDoesNotHoldItPastTheEnd() async throws {
        // Translation never answers: the loop must still end by --max-runtime, as stopped, exit 0.
        let server = try LocalHTTPServer { _ in .delay(120, then: .init(status: 500)) }
        defer { server.stop() }
        try await TestDatabase.withFresh { url in
            try await Paths.withTemporaryDirectory { dir in
                let env = [
                    "DATABASE_URL": url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out",
                    "TARGET_LANG": "en", "ANTHROPIC_API_KEY": "sk-ant-fake-0002", "ANTHROPIC_BASE_URL": server.baseURL,
                ]
                #expect(try ProcessRunner.run(Paths.jobRunner, ["migrate"], environment: env).status == 0)
                let started = Date()
                let out = try ProcessRunner.run(Paths.jobRunner, ["all", "--every", "2s", "--max-runtime", "10s"], environment: env)
                let took = Date().timeIntervalSince(started)
                #expect(out.status == 0)
                #expect(took >= 9 && took < 20)
                #expect(out.stdout.contains("max runtime nearly reached; stopping at the next safe point"))
                #expect(out.stdout.contains("msg=\"run finished\" job=all outcome=stopped"))
                #expect(!server.requests.isEmpty)
            }
        }
    }
}
