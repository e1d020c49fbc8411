import Foundation
import Testing
import TestSupport

@testable import Core

@Suite struct ConfigTests {
    let valid = [
        "DATABASE_URL": "postgres://u:pw-secret@db.example.com:6543/postgres?sslmode=require",
        "SRC_CHANNEL": "export:/data/result.json",
        "DST_CHANNEL": "files:/tmp/out",
        "TARGET_LANG": "en",
    ]

    func load(_ env: [String: String], files: [String: String] = [:]) async throws -> Config {
        try await Paths.withTemporaryDirectory { dir in
            for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
            return try Config.load(environment: env, directory: dir, redactor: SecretRedactor())
        }
    }

    @Test func validEnvironmentBuildsTheDefaultRoute() async throws {
        let config = try await load(valid)
        #expect(config.defaultRoute.source == .desktopExport(path: "/data/result.json"))
        #expect(config.defaultRoute.destination == .files(directory: "/tmp/out"))
        #expect(config.defaultRoute.targetLanguage.description == "en")
        #expect(config.databaseURL.sslMode == "require")
        #expect(config.logLevel == .info)
        #expect(config.anthropic == nil)
    }

    @Test func telegramDestinationsSourcesAndTheirSettings() async throws {
        var env = valid
        env["SRC_CHANNEL"] = "https://t.me/s/Durov"
        env["DST_CHANNEL"] = "@My_Mirror"
        env["TELEGRAM_BOT_TOKEN"] = "123456789:AAHfakeTokenForTestsOnly0123456789ab"
        env["TELEGRAM_POSTS_PER_MINUTE"] = "12"
        env["PUBLISH_UNCERTAIN"] = "resend"
        env["STRICT_ORDER"] = "true"
        let config = try await load(env)
        #expect(config.defaultRoute.source == .webPreview(channel: "durov"))
        #expect(config.defaultRoute.destination == .telegram(chat: "@my_mirror"))
        #expect(config.telegram?.postsPerMinute == 12 && config.telegram?.apiURL == "https://api.telegram.org")
        #expect(config.resendUncertain && config.strictOrder)
        #expect(try SourceSpec("botapi:-1001241558182") == .botAPI(chat: "-1001241558182"))
        #expect(try DestinationSpec("telegram:-1001234567890").description == "telegram:-1001234567890")
    }

    @Test func badTelegramSettingsAreEachAProblemWithTheFix() async throws {
        var env = valid
        env["DST_CHANNEL"] = "telegram:@mirror_channel"
        let missing = await #expect(throws: Config.ValidationError.self) { try await load(env) }
        #expect(missing?.problems == ["DST_CHANNEL=telegram:@mirror_channel needs TELEGRAM_BOT_TOKEN; create a bot with @BotFather, make it an admin of @mirror_channel allowed to post, and set its token"])
        env["TELEGRAM_BOT_TOKEN"] = "not-a-token"
        env["TELEGRAM_POSTS_PER_MINUTE"] = "0"
        env["PUBLISH_UNCERTAIN"] = "sometimes"
        env["STRICT_ORDER"] = "maybe"
        let error = await #expect(throws: Config.ValidationError.self) { try await load(env) }
        #expect(error?.problems == [
            "TELEGRAM_POSTS_PER_MINUTE=0 is not a number from 1 to 600; unset it for 20",
            "TELEGRAM_BOT_TOKEN does not look like a Bot API token (123456789:AA…); copy it again from @BotFather",
            "PUBLISH_UNCERTAIN=sometimes is not a policy; use park (the default) or resend",
            "STRICT_ORDER=maybe is not true or false; unset it for false",
        ])
        // Checked even when no route uses Telegram yet.
        let filesOnly = await #expect(throws: Config.ValidationError.self) { try await load(valid.merging(["TELEGRAM_POSTS_PER_MINUTE": "601"]) { $1 }) }
        #expect(filesOnly?.problems == ["TELEGRAM_POSTS_PER_MINUTE=601 is not a number from 1 to 600; unset it for 20"])
        env["DST_CHANNEL"] = "telegram:@ab"
        let short = await #expect(throws: Config.ValidationError.self) { try await load(env) }
        #expect(short?.problems.first == "DST_CHANNEL: telegram:@ab is not a Telegram channel; use telegram:@channel_username or telegram:-1001234567890")
    }

    @Test func everyMissingVariableIsReportedAtOnceOneLineEach() async throws {
        let error = await #expect(throws: Config.ValidationError.self) { try await load([:]) }
        let problems = error?.problems ?? []
        #expect(problems.count == 4)
        for name in ["DATABASE_URL", "SRC_CHANNEL", "DST_CHANNEL", "TARGET_LANG"] {
            #expect(problems.contains { $0.hasPrefix("\(name) is not set; set it, e.g. \(name)=") })
        }
        #expect(problems.allSatisfy { !$0.contains("\n") })
    }

    @Test func invalidValuesAreEachExplained() async throws {
        var env = valid
        env["DATABASE_URL"] = "host=x dbname"
        env["SRC_CHANNEL"] = "@somechannel"
        env["DST_CHANNEL"] = "ftp://nowhere"
        env["TARGET_LANG"] = "english please"
        env["LOG_LEVEL"] = "loud"
        let error = await #expect(throws: Config.ValidationError.self) { try await load(env) }
        let problems = error?.problems ?? []
        #expect(problems.count == 5)
        #expect(problems.contains { $0.hasPrefix("DATABASE_URL is not a valid connection string") })
        #expect(problems.contains { $0.hasPrefix("SRC_CHANNEL: @somechannel is not a supported source") })
        #expect(problems.contains { $0.hasPrefix("DST_CHANNEL: ftp://nowhere is not a supported destination") })
        #expect(problems.contains { $0.hasPrefix("TARGET_LANG=english please is not a language code") })
        #expect(problems.contains { $0.hasPrefix("LOG_LEVEL=loud is not a level") })
    }

    @Test func translationSettingsHaveDefaultsAndEachBadValueIsExplained() async throws {
        let defaults = try await load(valid)
        #expect(defaults.translation.provider == .pseudo)
        #expect(defaults.translation.batch == TranslationBatchLimits(posts: 20, characters: 12_000))
        #expect(defaults.translation.concurrency == 2 && defaults.translation.maxAttempts == 5 && defaults.translation.batchAPIThreshold == 200)
        #expect(defaults.translation.rules == TranslationRules(style: "", hashtags: .keep, lengthRatio: 0.25...4.0))
        #expect(defaults.translation.promptCache && defaults.translation.sourceLanguage == nil)

        var env = valid
        env["ANTHROPIC_API_KEY"] = "sk-ant-x"
        env["HASHTAGS"] = "Translate"
        env["TRANSLATION_LENGTH_RATIO"] = "0.5-2"
        env["TRANSLATE_BATCH_POSTS"] = "1"
        env["SOURCE_LANG"] = "UK"
        env["TRANSLATION_STYLE"] = "  neutral news register  "
        env["CLAUDE_PROMPT_CACHE"] = "false"
        let set = try await load(env)
        #expect(set.translation.provider == .claude)
        #expect(set.translation.rules == TranslationRules(style: "neutral news register", hashtags: .translate, lengthRatio: 0.5...2.0))
        #expect(set.translation.batch.posts == 1 && !set.translation.promptCache && set.translation.sourceLanguage?.description == "uk")

        var bad = valid
        bad["TRANSLATOR"] = "deepl"
        bad["HASHTAGS"] = "drop"
        bad["TRANSLATION_LENGTH_RATIO"] = "4-1"
        bad["TRANSLATE_CONCURRENCY"] = "0"
        bad["TRANSLATE_BATCH_POSTS"] = "many"
        bad["SOURCE_LANG"] = "ukrainian language"
        bad["CLAUDE_PROMPT_CACHE"] = "maybe"
        let error = await #expect(throws: Config.ValidationError.self) { try await load(bad) }
        #expect(error?.problems == [
            "TRANSLATOR=deepl is not a translator; use claude, openai or pseudo",
            "CLAUDE_PROMPT_CACHE=maybe is not true or false; unset it for true",
            "SOURCE_LANG=ukrainian language is not a language code; use e.g. uk, ru, zh-Hans",
            "HASHTAGS=drop is not a policy; use keep (the default) or translate",
            "TRANSLATION_LENGTH_RATIO=4-1 is not a range; use low-high, e.g. 0.25-4",
            "TRANSLATE_BATCH_POSTS=many is not a number from 1 to 100; unset it for 20",
            "TRANSLATE_CONCURRENCY=0 is not a number from 1 to 32; unset it for 2",
        ])

        var claude = valid
        claude["TRANSLATOR"] = "claude"
        let noKey = await #expect(throws: Config.ValidationError.self) { try await load(claude) }
        #expect(noKey?.problems == ["TRANSLATOR=claude needs ANTHROPIC_API_KEY; set it (console.anthropic.com → API keys) or unset TRANSLATOR for the offline pseudo-translator"])
        var openai = valid
        openai["TRANSLATOR"] = "openai"
        openai["OPENAI_BASE_URL"] = "localhost:11434"
        let noModel = await #expect(throws: Config.ValidationError.self) { try await load(openai) }
        #expect(noModel?.problems == ["TRANSLATOR=openai needs OPENAI_MODEL; set it to a model the server serves, e.g. OPENAI_MODEL=qwen2.5:7b",
                                      "OPENAI_BASE_URL=localhost:11434 is not an http(s) URL; use e.g. http://localhost:11434"])
    }

    @Test func openAISecretsAreMaskedAsGivenAndAsUsed() async throws {
        var env = valid
        env["TRANSLATOR"] = "openai"
        env["OPENAI_BASE_URL"] = "https://bob:proxy-pass-999@llm.example.com"
        env["OPENAI_MODEL"] = "qwen"
        env["OPENAI_API_KEY"] = "sk-local-secret-1234\n"
        let redactor = SecretRedactor()
        let config = try await Paths.withTemporaryDirectory { dir in try Config.load(environment: env, directory: dir, redactor: redactor) }
        let settings = try #require(config.translation.openAI)
        let line = redactor.redact("HTTP 401 for key \(settings.apiKey!) at \(settings.baseURL)")
        #expect(!line.contains("sk-local-secret-1234") && !line.contains("proxy-pass-999"), "\(line)")
    }

    @Test func environmentBeatsDotEnvWhichBeatsAppSettings() async throws {
        let files = [
            "app_settings.env": "TARGET_LANG=de\nLOG_LEVEL=debug\nDST_CHANNEL=files:/from/app_settings\n",
            ".env": "# secrets\nexport TARGET_LANG=fr\nDST_CHANNEL=\"files:/from/dotenv\"\n",
        ]
        var env = valid
        env["TARGET_LANG"] = nil
        env["DST_CHANNEL"] = nil
        let fromFiles = try await load(env, files: files)
        #expect(fromFiles.defaultRoute.targetLanguage.description == "fr")
        #expect(fromFiles.defaultRoute.destination == .files(directory: "/from/dotenv"))
        #expect(fromFiles.logLevel == .debug)
        env["TARGET_LANG"] = "pt-BR"
        let fromEnv = try await load(env, files: files)
        #expect(fromEnv.defaultRoute.targetLanguage.description == "pt-BR")
    }

    @Test func malformedEnvFileLineIsReportedWithItsNumber() async throws {
        let error = await #expect(throws: Config.ValidationError.self) {
            try await load(valid, files: [".env": "A=1\nthis line is wrong\n"])
        }
        #expect(error?.problems == [".env line 2: expected KEY=VALUE; fix or remove that line"])
    }

    @Test func envFileDialect() throws {
        let parsed = EnvFile.parse(
            """
            # comment
            PLAIN=value # trailing comment
            export EXPORTED=yes
            SINGLE='keep \\n literal # here'
            DOUBLE="line1\\nline2 \\"q\\"" # comment after quotes
            QUOTED_HASH='a#b' # real comment
            EQUALS=a=b=c
            EMPTY=

            """, file: ".env")
        #expect(parsed.problems.isEmpty)
        #expect(parsed.values["PLAIN"] == "value")
        #expect(parsed.values["EXPORTED"] == "yes")
        #expect(parsed.values["SINGLE"] == "keep \\n literal # here")
        #expect(parsed.values["DOUBLE"] == "line1\nline2 \"q\"")
        #expect(parsed.values["QUOTED_HASH"] == "a#b")
        #expect(parsed.values["EQUALS"] == "a=b=c")
        #expect(parsed.values["EMPTY"] == "")
    }

    @Test func malformedLinesAreReportedAndTheRestStillCounts() {
        let parsed = EnvFile.parse("A=1\nX=\"unterminated\n1BAD=x\nB='x' trailing\nno equals here\nC=3\n", file: ".env")
        #expect(parsed.values == ["A": "1", "C": "3"])
        #expect(parsed.problems.map(\.line) == [2, 3, 4, 5])
        #expect(parsed.problems.map(\.reason) == [
            "unterminated \" quote", "invalid variable name", "unexpected text after the closing ' quote", "expected KEY=VALUE",
        ])
    }

    @Test func aBadLineDoesNotHideTheOtherVariablesOfItsFile() async throws {
        let error = await #expect(throws: Config.ValidationError.self) {
            try await load([:], files: [
                ".env": "DATABASE_URL=postgres://u@h/db\nSRC_CHANNEL=export:/x.json\nDST_CHANNEL=files:/o\nTARGET_LANG=de\n%%% garbage\n",
                "app_settings.env": "TARGET_LANG=fr\n",
            ])
        }
        #expect(error?.problems == [".env line 5: expected KEY=VALUE; fix or remove that line"])
    }

    @Test func secretsAreRegisteredForRedaction() async throws {
        let redactor = SecretRedactor()
        var env = valid
        env["ANTHROPIC_API_KEY"] = "sk-ant-api03-testsecret"
        let config = try Config.load(environment: env, directory: URL(fileURLWithPath: "/nonexistent"), redactor: redactor)
        #expect(config.anthropic?.model == Config.defaultClaudeModel)
        let text = redactor.redact("key sk-ant-api03-testsecret and password pw-secret in postgres://u:pw-secret@h")
        #expect(text == "key [REDACTED] and password [REDACTED] in postgres://u:[REDACTED]@h")
    }
}

@Suite struct LoggerTests {
    @Test func writesOneLogfmtLinePerEventAndHonoursTheLevel() {
        let capture = LogCapture()
        var logger = capture.logger.with("job", "fetch")
        logger.level = .info
        logger.debug("hidden")
        logger.info("source fetched", ["title": "ГУЗЕЛЬСКИЕ \"ПЕРЕЗАЛИВЫ\"", "new_posts": 3, "note": "a=b\nc"])
        #expect(capture.lines.count == 1)
        let line = capture.lines[0]
        #expect(!line.contains("\n"))
        #expect(line.hasSuffix(#"level=info msg="source fetched" job=fetch title="ГУЗЕЛЬСКИЕ \"ПЕРЕЗАЛИВЫ\"" new_posts=3 note="a=b\nc""#))
        #expect(line.hasPrefix("ts=20"))
    }

    @Test func masksRegisteredSecretsAndAnyBotToken() {
        let redactor = SecretRedactor()
        redactor.register("sk-ant-secret-1")
        let capture = LogCapture()
        let logger = capture.logger(level: .info, redactor: redactor)
        logger.info("calling", ["url": "https://api.telegram.org/bot987654321:AAE-secret_token_value123/sendMessage", "key": "sk-ant-secret-1"])
        let line = capture.lines.joined()
        #expect(!line.contains("AAE-secret_token_value123"))
        #expect(!line.contains("sk-ant-secret-1"))
        #expect(line.contains("bot987654321:[REDACTED]/sendMessage"))
    }

    @Test func levelNames() {
        #expect(LogLevel(name: "WARN") == .warning)
        #expect(LogLevel(name: "debug") == .debug)
        #expect(LogLevel(name: "verbose") == nil)
    }
}

@Suite struct LanguageCodeTests {
    @Test(arguments: [("en", "en"), ("EN", "en"), ("pt-br", "pt-BR"), ("zh-hans", "zh-Hans"), ("sr-Latn-RS", "sr-Latn-RS"), ("es-419", "es-419")])
    func tagsAreCanonicalised(input: String, canonical: String) {
        #expect(LanguageCode(input)?.description == canonical)
    }

    @Test(arguments: ["", "e", "english", "en_US", "en-", "12"])
    func nonTagsAreRejected(input: String) {
        #expect(LanguageCode(input) == nil)
    }
}

@Suite struct RouteSpecTests {
    @Test func oneFolderIsAlwaysWrittenOneWay() throws {
        let cwd = FileManager.default.currentDirectoryPath
        #expect(try DestinationSpec("files:/tmp/o/") == .files(directory: "/tmp/o"))
        #expect(try DestinationSpec("files:/tmp/../tmp/./o") == .files(directory: "/tmp/o"))
        #expect(try DestinationSpec("files:out") == .files(directory: cwd + "/out"))
        #expect(try SourceSpec("export:./x/../result.json") == .desktopExport(path: cwd + "/result.json"))
    }
}

@Suite struct RuntimeEnvironmentTests {
    @Test(arguments: [
        (["DYNO": "worker.1"], "production (heroku worker.1)"),
        (["DYNO": "scheduler.4821", "CI": "true"], "production (heroku scheduler.4821)"),
        (["CI": "true"], "test"),
        (["CI": "false"], "local"),
        (["TEST_DATABASE_URL": "host=/tmp dbname=postgres"], "test"),
        ([:], "local"),
    ])
    func detectsWhereItRuns(environment: [String: String], expected: String) {
        #expect(RuntimeEnvironment.detect(environment).description == expected)
    }
}
