import Foundation

/// Everything a job needs from its environment, validated once at start.
///
/// Values come from the process environment, then `.env`, then `app_settings.env` (in the working
/// directory); the first that defines a variable wins, so a Heroku config var always beats a file.
public struct Config: Sendable {
    public var databaseURL: ConnectionString
    /// The route built from `SRC_CHANNEL`, `DST_CHANNEL` and `TARGET_LANG`.
    public var defaultRoute: RouteSpec
    public var logLevel: LogLevel
    public var anthropic: AnthropicSettings?
    /// `PUBLISH_UNCERTAIN=resend`: a unit whose last call was cut off without an answer is sent again
    /// (risking a duplicate) instead of being set aside for the operator (risking nothing, waiting for a person).
    public var resendUncertain = false
    /// `STRICT_ORDER=true`: the default route never publishes past a parked or set-aside post.
    public var strictOrder = false
    /// Bot API settings; present when `TELEGRAM_BOT_TOKEN` is set.
    public var telegram: TelegramSettings?
    /// Which translator runs and how it batches, checks and retries.
    public var translation = TranslationSettings()

    public struct TranslationSettings: Sendable {
        public enum Provider: String, Sendable, CaseIterable {
            case pseudo, claude, openai
        }
        public var provider: Provider = .pseudo
        /// Set for `TRANSLATOR=openai`.
        public var openAI: OpenAIChatBackend.Settings?
        public var rules = TranslationRules()
        public var batch = TranslationBatchLimits(posts: Config.defaultBatchPosts, characters: Config.defaultBatchCharacters)
        public var concurrency = Config.defaultConcurrency
        /// Failed attempts (outages included) after which a post is parked.
        public var maxAttempts = Config.defaultMaxAttempts
        /// Pending posts from which a run submits a Message Batch instead of calling the API live; 0 never.
        public var batchAPIThreshold = Config.defaultBatchAPIThreshold
        /// The posts' language, which selects the glossary (`SOURCE_LANG`); without it no glossary applies.
        public var sourceLanguage: LanguageCode?
        public var promptCache = true
        public init() {}
    }
    public static let defaultBatchPosts = 20
    public static let defaultBatchCharacters = 12_000
    public static let defaultConcurrency = 2
    public static let defaultMaxAttempts = 5
    public static let defaultBatchAPIThreshold = 200

    /// How the bot reaches the Bot API and how fast it may post.
    public struct TelegramSettings: Sendable {
        public var botToken: String
        public var apiURL: String
        /// Calls per minute per destination chat (Telegram allows about 20 messages a minute in a channel).
        public var postsPerMinute: Int
        public init(botToken: String, apiURL: String = Config.defaultTelegramAPIURL, postsPerMinute: Int = Config.defaultPostsPerMinute) {
            self.botToken = botToken
            self.apiURL = apiURL
            self.postsPerMinute = postsPerMinute
        }
    }
    public static let defaultTelegramAPIURL = "https://api.telegram.org"
    public static let defaultPostsPerMinute = 20

    /// Claude settings; present only when `ANTHROPIC_API_KEY` is set.
    public struct AnthropicSettings: Sendable {
        public var apiKey: String
        public var model: String
        public var baseURL: String
        public var pricing: ModelPricing
        public init(apiKey: String, model: String = Config.defaultClaudeModel, baseURL: String = Config.defaultAnthropicBaseURL, pricing: ModelPricing) {
            self.apiKey = apiKey
            self.model = model
            self.baseURL = baseURL
            self.pricing = pricing
        }
    }

    public static let defaultClaudeModel = "claude-haiku-5-5"
    public static let defaultAnthropicBaseURL = "https://api.anthropic.com"

    /// Every variable the product reads, with its meaning; `--help` and the README list the same.
    public static let variables: [(name: String, meaning: String)] = [
        ("DATABASE_URL", "PostgreSQL connection string, URL or keyword form (required)"),
        ("SRC_CHANNEL", "source of the default route, e.g. export:/path/to/result.json (required)"),
        ("DST_CHANNEL", "destination of the default route: telegram:@channel (Bot API) or files:./out (required)"),
        ("TARGET_LANG", "language to translate into, e.g. en, de, pt-BR (required)"),
        ("ANTHROPIC_API_KEY", "Claude API key; without it the offline pseudo-translator is used"),
        ("CLAUDE_MODEL", "Claude model id (default \(defaultClaudeModel))"),
        ("ANTHROPIC_BASE_URL", "Anthropic API base URL (default \(defaultAnthropicBaseURL))"),
        ("CLAUDE_PRICE_PER_MTOK", "USD per million tokens, input=…,output=…,cache_write=…,cache_read=… (default: the model's list price)"),
        ("TRANSLATOR", "claude, openai or pseudo (default: claude when ANTHROPIC_API_KEY is set, else the offline pseudo-translator)"),
        ("OPENAI_BASE_URL", "TRANSLATOR=openai: base URL of an OpenAI-compatible server, e.g. http://localhost:11434 (required for it)"),
        ("OPENAI_MODEL", "TRANSLATOR=openai: the model name the server serves (required for it)"),
        ("OPENAI_API_KEY", "TRANSLATOR=openai: bearer key, if the server wants one"),
        ("OPENAI_PRICE_PER_MTOK", "TRANSLATOR=openai: USD per million tokens, same form as CLAUDE_PRICE_PER_MTOK (default 0: a local server)"),
        ("CLAUDE_PROMPT_CACHE", "true (default) or false: mark the instructions and glossary for prompt caching"),
        ("SOURCE_LANG", "language of the source posts, e.g. uk; selects the glossary SOURCE_LANG→TARGET_LANG (default: no glossary)"),
        ("TRANSLATION_STYLE", "extra instructions for the translator, e.g. \"neutral news register\" (default none)"),
        ("HASHTAGS", "keep (default: hashtags unchanged) or translate (translated, # kept, no spaces)"),
        ("TRANSLATION_LENGTH_RATIO", "accepted translation/source length ratio, low-high (default 0.25-4)"),
        ("TRANSLATE_BATCH_POSTS", "most posts per translation request (default \(defaultBatchPosts); 1 sends each post alone)"),
        ("TRANSLATE_BATCH_CHARS", "most post characters (UTF-16) per translation request (default \(defaultBatchCharacters))"),
        ("TRANSLATE_CONCURRENCY", "translation requests in flight at once (default \(defaultConcurrency))"),
        ("TRANSLATE_MAX_ATTEMPTS", "failed attempts after which a post is parked (default \(defaultMaxAttempts))"),
        ("TRANSLATE_BATCH_API_THRESHOLD", "pending posts from which Claude's Message Batches API (half price, results within 24 h) is used; 0 never (default \(defaultBatchAPIThreshold))"),
        ("TELEGRAM_BOT_TOKEN", "Bot API token of the bot that posts in telegram: destinations (required for them)"),
        ("TELEGRAM_API_URL", "Bot API base URL (default \(defaultTelegramAPIURL); a local telegram-bot-api server works too)"),
        ("TELEGRAM_POSTS_PER_MINUTE", "messages per minute per destination channel, an album counting each item (default \(defaultPostsPerMinute))"),
        ("PUBLISH_UNCERTAIN", "park (default: set aside for the operator) or resend: what to do with a send cut off without an answer"),
        ("STRICT_ORDER", "true: the default route waits at a parked or set-aside post instead of publishing later ones (default false)"),
        ("LOG_LEVEL", "trace, debug, info, notice, warning or error (default info)"),
    ]

    /// All problems found, one line each.
    public struct ValidationError: Error, CustomStringConvertible, Sendable {
        public let problems: [String]
        public var description: String { problems.joined(separator: "\n") }
    }

    /// Loads and validates; throws every problem at once rather than the first.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        redactor: SecretRedactor = .shared
    ) throws(ValidationError) -> Config {
        let (merged, problems) = mergedValues(environment: environment, directory: directory)
        return try validate(merged, problems: problems, redactor: redactor)
    }

    /// Registers every secret among `values` before anything can print them: keys both as given and as used
    /// (trimmed), and passwords inside API base URLs.
    static func registerSecrets(_ values: [String: String], with redactor: SecretRedactor) {
        for name in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN"] {
            if let key = values[name] {
                redactor.register(key)
                redactor.register(key.trimmingWhitespace())
            }
        }
        for name in ["ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"] {
            if let url = values[name] { ConnectionString.suspectedPasswords(in: url).forEach(redactor.register) }
        }
    }

    /// What `migrate`, `status`, `report`, `glossary` and the database checks of `doctor` need: only the
    /// database and the log level, so a bad value elsewhere (the reason a worker is down) never stops them.
    public static func loadDatabaseSettings(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        redactor: SecretRedactor = .shared
    ) throws(ValidationError) -> (database: ConnectionString, logLevel: LogLevel) {
        let (merged, problems) = mergedValues(environment: environment, directory: directory)
        registerSecrets(merged, with: redactor)
        // Only the database settings, with the route variables filled in, so nothing else can fail.
        var values = merged.filter { $0.key == "DATABASE_URL" || $0.key == "LOG_LEVEL" }
        values["SRC_CHANNEL"] = "export:-"
        values["DST_CHANNEL"] = "files:-"
        values["TARGET_LANG"] = "en"
        let config = try validate(values, problems: problems, redactor: redactor)
        return (config.databaseURL, config.logLevel)
    }

    /// The values of `names` from the environment, `.env` and `app_settings.env` (in that precedence), for
    /// commands that need a setting or two without the whole configuration.
    public static func values(
        _ names: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) -> [String: String] {
        mergedValues(environment: environment, directory: directory).0.filter { names.contains($0.key) }.mapValues { $0.trimmingWhitespace() }
    }

    /// Environment over `.env` over `app_settings.env`, plus a problem for each unreadable file line.
    static func mergedValues(environment: [String: String], directory: URL) -> ([String: String], [String]) {
        var problems: [String] = []
        var merged: [String: String] = [:]
        for name in ["app_settings.env", ".env"] {
            let url = directory.appendingPathComponent(name)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            let parsed = EnvFile.parse(text, file: name)
            merged.merge(parsed.values) { _, new in new }
            problems += parsed.problems.map { "\($0.file) line \($0.line): \($0.reason); fix or remove that line" }
        }
        merged.merge(environment.filter { !$0.value.isEmpty }) { _, env in env }
        return (merged, problems)
    }

    static func validate(_ values: [String: String], problems initial: [String], redactor: SecretRedactor) throws(ValidationError) -> Config {
        var problems = initial
        func required(_ name: String, _ example: String) -> String? {
            guard let value = values[name]?.trimmingWhitespace(), !value.isEmpty else {
                problems.append("\(name) is not set; set it, e.g. \(name)=\(example)")
                return nil
            }
            return value
        }

        registerSecrets(values, with: redactor)

        var database: ConnectionString?
        if let url = required("DATABASE_URL", "postgres://user:password@host:5432/postgres?sslmode=require") {
            ConnectionString.suspectedPasswords(in: url).forEach(redactor.register)
            do {
                database = try ConnectionString(url)
            } catch {
                problems.append("\(error.message); use postgres://user:password@host:port/dbname or host=… dbname=…")
            }
        }
        if let password = database?.password { redactor.register(password) }

        var source: SourceSpec?
        if let value = required("SRC_CHANNEL", "export:/path/to/result.json") {
            do { source = try SourceSpec(value) } catch { problems.append("SRC_CHANNEL: \(error.description)") }
        }
        var destination: DestinationSpec?
        if let value = required("DST_CHANNEL", "files:./out") {
            do { destination = try DestinationSpec(value) } catch { problems.append("DST_CHANNEL: \(error.description)") }
        }
        var language: LanguageCode?
        if let value = required("TARGET_LANG", "en") {
            language = LanguageCode(value)
            if language == nil { problems.append("TARGET_LANG=\(value) is not a language code; use e.g. en, de, pt-BR") }
        }

        var logLevel = LogLevel.info
        if let raw = values["LOG_LEVEL"] {
            if let level = LogLevel(name: raw) {
                logLevel = level
            } else {
                problems.append("LOG_LEVEL=\(raw) is not a level; use one of \(LogLevel.allCases.map(\.description).joined(separator: ", "))")
            }
        }

        var anthropic: AnthropicSettings?
        if let key = values["ANTHROPIC_API_KEY"]?.trimmingWhitespace(), !key.isEmpty {
            let baseURL = values["ANTHROPIC_BASE_URL"] ?? defaultAnthropicBaseURL
            if !(baseURL.hasPrefix("https://") || baseURL.hasPrefix("http://")) {
                problems.append("ANTHROPIC_BASE_URL=\(baseURL) is not an http(s) URL; unset it to use \(defaultAnthropicBaseURL)")
            }
            let model = values["CLAUDE_MODEL"] ?? defaultClaudeModel
            var pricing = ModelPricing.defaults[model]
            if let raw = values["CLAUDE_PRICE_PER_MTOK"] {
                pricing = ModelPricing(parsing: raw)
                if pricing == nil {
                    problems.append("CLAUDE_PRICE_PER_MTOK=\(raw) is not a price list; use input=0.10,output=0.50,cache_write=0.125,cache_read=0.01 (USD per million tokens)")
                }
            } else if pricing == nil {
                problems.append("CLAUDE_MODEL=\(model) has no known price; set CLAUDE_PRICE_PER_MTOK=input=…,output=…,cache_write=…,cache_read=… (USD per million tokens) so costs are recorded")
            }
            anthropic = AnthropicSettings(
                apiKey: key,
                model: model,
                baseURL: baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL,
                pricing: pricing ?? ModelPricing(input: 0, output: 0, cacheWrite: 0, cacheRead: 0)
            )
        }

        let translation = translationSettings(values, anthropic: anthropic, problems: &problems, redactor: redactor)

        // Checked whenever set, even while no route uses Telegram, so a typo is found before it matters.
        let apiURL = values["TELEGRAM_API_URL"] ?? defaultTelegramAPIURL
        if !(apiURL.hasPrefix("https://") || apiURL.hasPrefix("http://")) {
            problems.append("TELEGRAM_API_URL=\(apiURL) is not an http(s) URL; unset it to use \(defaultTelegramAPIURL)")
        }
        let perMinute = integer(values, "TELEGRAM_POSTS_PER_MINUTE", 1...600, default: defaultPostsPerMinute, problems: &problems)
        var telegram: TelegramSettings?
        if let token = values["TELEGRAM_BOT_TOKEN"]?.trimmingWhitespace(), !token.isEmpty {
            // The shape of a Bot API token: the bot id, a colon, and a 35-character secret.
            let parts = token.split(separator: ":", maxSplits: 1)
            if parts.count != 2 || !parts[0].allSatisfy(\.isNumber) || parts[1].count < 30
                || !parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                problems.append("TELEGRAM_BOT_TOKEN does not look like a Bot API token (123456789:AA…); copy it again from @BotFather")
            }
            telegram = TelegramSettings(botToken: token, apiURL: apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL, postsPerMinute: perMinute)
        } else if case .telegram(let chat)? = destination {
            problems.append("DST_CHANNEL=telegram:\(chat) needs TELEGRAM_BOT_TOKEN; create a bot with @BotFather, make it an admin of \(chat) allowed to post, and set its token")
        }

        var resendUncertain = false
        switch values["PUBLISH_UNCERTAIN"]?.trimmingWhitespace().lowercased() {
        case nil, "park": break
        case "resend": resendUncertain = true
        case let other?: problems.append("PUBLISH_UNCERTAIN=\(other) is not a policy; use park (the default) or resend")
        }

        let strictOrder = flag(values, "STRICT_ORDER", default: false, problems: &problems)

        guard problems.isEmpty, let database, let source, let destination, let language else {
            throw ValidationError(problems: problems)
        }
        return Config(
            databaseURL: database,
            defaultRoute: RouteSpec(source: source, destination: destination, targetLanguage: language),
            logLevel: logLevel,
            anthropic: anthropic,
            resendUncertain: resendUncertain,
            strictOrder: strictOrder,
            telegram: telegram,
            translation: translation
        )
    }

    /// `name` as a whole number in `range`, or `value` when unset; a bad value is a problem naming the range.
    static func integer(_ values: [String: String], _ name: String, _ range: ClosedRange<Int>, default value: Int, problems: inout [String]) -> Int {
        guard let raw = values[name]?.trimmingWhitespace() else { return value }
        guard let n = Int(raw), range.contains(n) else {
            problems.append("\(name)=\(raw) is not a number from \(range.lowerBound) to \(range.upperBound); unset it for \(value)")
            return value
        }
        return n
    }

    /// `name` as true/false (also 1/0, yes/no), or `value` when unset.
    static func flag(_ values: [String: String], _ name: String, default value: Bool, problems: inout [String]) -> Bool {
        switch values[name]?.trimmingWhitespace().lowercased() {
        case nil: return value
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        case let other?:
            problems.append("\(name)=\(other) is not true or false; unset it for \(value)")
            return value
        }
    }

    static func translationSettings(_ values: [String: String], anthropic: AnthropicSettings?, problems: inout [String], redactor: SecretRedactor) -> TranslationSettings {
        var settings = TranslationSettings()
        func integer(_ name: String, _ range: ClosedRange<Int>, default value: Int) -> Int {
            Config.integer(values, name, range, default: value, problems: &problems)
        }
        func flag(_ name: String, default value: Bool) -> Bool { Config.flag(values, name, default: value, problems: &problems) }

        let providerName = values["TRANSLATOR"]?.trimmingWhitespace().lowercased()
        switch providerName {
        case nil: settings.provider = anthropic == nil ? .pseudo : .claude
        case let name?:
            if let provider = TranslationSettings.Provider(rawValue: name) {
                settings.provider = provider
            } else {
                problems.append("TRANSLATOR=\(name) is not a translator; use claude, openai or pseudo")
            }
        }
        if settings.provider == .claude, anthropic == nil {
            problems.append("TRANSLATOR=claude needs ANTHROPIC_API_KEY; set it (console.anthropic.com → API keys) or unset TRANSLATOR for the offline pseudo-translator")
        }
        if settings.provider == .openai {
            let base = values["OPENAI_BASE_URL"]?.trimmingWhitespace()
            let model = values["OPENAI_MODEL"]?.trimmingWhitespace()
            if base == nil { problems.append("TRANSLATOR=openai needs OPENAI_BASE_URL; set it, e.g. OPENAI_BASE_URL=http://localhost:11434") }
            if model == nil { problems.append("TRANSLATOR=openai needs OPENAI_MODEL; set it to a model the server serves, e.g. OPENAI_MODEL=qwen2.5:7b") }
            if let base, !(base.hasPrefix("https://") || base.hasPrefix("http://")) {
                problems.append("OPENAI_BASE_URL=\(base) is not an http(s) URL; use e.g. http://localhost:11434")
            }
            var pricing = ModelPricing(input: 0, output: 0, cacheWrite: 0, cacheRead: 0)
            if let raw = values["OPENAI_PRICE_PER_MTOK"] {
                if let parsed = ModelPricing(parsing: raw) { pricing = parsed } else {
                    problems.append("OPENAI_PRICE_PER_MTOK=\(raw) is not a price list; use input=…,output=…,cache_write=…,cache_read=… (USD per million tokens)")
                }
            }
            if var base, let model {
                while base.hasSuffix("/") { base.removeLast() }
                if base.hasSuffix("/v1") { base.removeLast(3) }
                settings.openAI = OpenAIChatBackend.Settings(baseURL: base, model: model, apiKey: values["OPENAI_API_KEY"]?.trimmingWhitespace(), pricing: pricing)
            }
        }

        settings.promptCache = flag("CLAUDE_PROMPT_CACHE", default: true)
        if let raw = values["SOURCE_LANG"]?.trimmingWhitespace() {
            settings.sourceLanguage = LanguageCode(raw)
            if settings.sourceLanguage == nil { problems.append("SOURCE_LANG=\(raw) is not a language code; use e.g. uk, ru, zh-Hans") }
        }
        if let style = values["TRANSLATION_STYLE"]?.trimmingWhitespace() { settings.rules.style = style }
        if let raw = values["HASHTAGS"]?.trimmingWhitespace().lowercased() {
            if let policy = TranslationRules.HashtagPolicy(rawValue: raw) { settings.rules.hashtags = policy } else {
                problems.append("HASHTAGS=\(raw) is not a policy; use keep (the default) or translate")
            }
        }
        if let raw = values["TRANSLATION_LENGTH_RATIO"]?.trimmingWhitespace() {
            if let ratio = TranslationRules.parseRatio(raw) { settings.rules.lengthRatio = ratio } else {
                problems.append("TRANSLATION_LENGTH_RATIO=\(raw) is not a range; use low-high, e.g. 0.25-4")
            }
        }
        settings.batch = TranslationBatchLimits(posts: integer("TRANSLATE_BATCH_POSTS", 1...100, default: defaultBatchPosts),
                                                characters: integer("TRANSLATE_BATCH_CHARS", 500...100_000, default: defaultBatchCharacters))
        settings.concurrency = integer("TRANSLATE_CONCURRENCY", 1...32, default: defaultConcurrency)
        settings.maxAttempts = integer("TRANSLATE_MAX_ATTEMPTS", 1...100, default: defaultMaxAttempts)
        settings.batchAPIThreshold = integer("TRANSLATE_BATCH_API_THRESHOLD", 0...100_000, default: defaultBatchAPIThreshold)
        return settings
    }
}
