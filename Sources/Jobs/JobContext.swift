import Core
import Foundation
import Synchronization

/// Set by SIGTERM/SIGINT; jobs check it between items and stop at a safe point.
///
/// Handlers registered with ``onStop(_:)`` run when the stop is requested; the CLI uses one to cancel the
/// running job's task, which aborts a request in flight (an API that never answers must not hold the
/// process past Heroku's 30-second shutdown window). Database work is not cancelled: it completes.
public final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var aborted = false
        var handlers: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())
    public init() {}
    public var isStopRequested: Bool { state.withLock { $0.stopped } }

    /// Stop now: jobs stop at the next safe point, and requests in flight are abandoned (SIGTERM, SIGINT, or
    /// the hard end of `--max-runtime`).
    public func requestStop() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            state.stopped = true
            guard !state.aborted else { return [] }
            state.aborted = true
            defer { state.handlers = [] }
            return state.handlers
        }
        handlers.forEach { $0() }
    }

    /// Stop claiming new work, but let the item in hand finish (the soft end of `--max-runtime`).
    public func requestSoftStop() {
        state.withLock { $0.stopped = true }
    }

    /// Runs `handler` when requests in flight must be abandoned, or now if that was already asked.
    public func onStop(_ handler: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.aborted { return true }
            state.handlers.append(handler)
            return false
        }
        if runNow { handler() }
    }
}

/// What every job needs: configuration, the store, the adapters and the stop signal.
public struct JobContext: Sendable {
    public let config: Config
    public let logger: Logger
    public let store: MirrorStore
    public let translator: any Translator
    public let stop: StopSignal
    /// Builds the reader of a source; tests substitute fakes here.
    public let makeSource: @Sendable (SourceSpec) throws -> any PostSource
    /// How adapters reach HTTP APIs.
    public let http: any HTTPTransport
    /// Builds the publisher of a route's destination (the route's source tells where exported media lie).
    public let makeDestination: @Sendable (RouteSpec) throws -> any Destination
    /// How long work shows its progress.
    public var progressStyle: ProgressReporter.Style = .off
    /// The end of `--max-runtime`, when given: waits (flood control) never reach past it.
    public var deadline: ContinuousClock.Instant?

    public init(
        config: Config,
        logger: Logger,
        store: MirrorStore,
        translator: any Translator,
        stop: StopSignal,
        makeSource: (@Sendable (SourceSpec) throws -> any PostSource)? = nil,
        http: any HTTPTransport = HTTPClient(),
        makeDestination: (@Sendable (RouteSpec) throws -> any Destination)? = nil
    ) {
        self.config = config
        self.logger = logger
        self.store = store
        self.translator = translator
        self.stop = stop
        self.http = http
        self.makeSource = makeSource ?? JobContext.sourceFactory(http: http)
        self.makeDestination = makeDestination ?? JobContext.destinationFactory(config: config, http: http, logger: logger)
    }

    /// The production wiring: the translator `TRANSLATOR` names (Claude when `ANTHROPIC_API_KEY` is set, the
    /// pseudo-translator otherwise).
    public static func live(config: Config, logger: Logger, stop: StopSignal, deadline: ContinuousClock.Instant? = nil) -> JobContext {
        let database = Database(config.databaseURL, logger: logger)
        let http = HTTPClient()
        let translator = makeTranslator(config: config, http: http, logger: logger)
        var context = JobContext(
            config: config, logger: logger, store: MirrorStore(database: database), translator: translator, stop: stop, http: http,
            makeDestination: destinationFactory(config: config, http: http, logger: logger, deadline: deadline))
        context.progressStyle = .automatic
        context.deadline = deadline
        return context
    }

    /// The translator the configuration selects.
    public static func makeTranslator(config: Config, http: any HTTPTransport, logger: Logger) -> any Translator {
        let settings = config.translation
        let backend: any ModelBackend
        switch settings.provider {
        case .claude where config.anthropic != nil:
            backend = ClaudeMessagesBackend(settings: config.anthropic!, http: http, logger: logger)
        case .openai where settings.openAI != nil:
            backend = OpenAIChatBackend(settings: settings.openAI!, http: http, logger: logger)
        default:
            return PseudoTranslator()
        }
        return ModelTranslator(backend: backend, rules: settings.rules, batchLimits: settings.batch, cacheSystemPrompt: settings.promptCache, logger: logger)
    }

    /// A progress reporter for `total` units of `job`'s work.
    public func progress(_ job: String, total: Int, unit: String) -> ProgressReporter {
        ProgressReporter(job: job, total: total, unit: unit, style: progressStyle, logger: logger)
    }

    /// The production readers of exports and web previews (`botapi:` sources are read by ``updateFeed()``).
    public static func sourceFactory(http: any HTTPTransport) -> @Sendable (SourceSpec) throws -> any PostSource {
        { spec in
            switch spec {
            case .desktopExport(let path): return TelegramDesktopExport(path: path)
            case .webPreview(let channel): return WebPreviewSource(channel: channel, http: http)
            case .botAPI(let chat): throw TelegramSetupError("botapi:\(chat) is read through the bot's update queue, not on its own")
            }
        }
    }

    /// The reader of the bot's update queue, for `botapi:` sources.
    public func updateFeed() throws -> BotAPIUpdateFeed {
        guard let telegram = config.telegram else {
            throw TelegramSetupError("botapi: sources need TELEGRAM_BOT_TOKEN; set the token of a bot that is an admin of the source channel")
        }
        return BotAPIUpdateFeed(client: BotAPIClient(settings: telegram, http: http), botToken: telegram.botToken)
    }

    /// The production destinations: review files, or a Telegram channel through the Bot API.
    public static func destinationFactory(
        config: Config, http: any HTTPTransport, logger: Logger, maxInlineWait: Duration = .seconds(60), deadline: ContinuousClock.Instant? = nil
    ) -> @Sendable (RouteSpec) throws -> any Destination {
        { route in
            switch route.destination {
            case .files(let directory):
                return FileDestination(directory: directory)
            case .telegram(let chat):
                guard let telegram = config.telegram else {
                    throw TelegramSetupError("route to telegram:\(chat) needs TELEGRAM_BOT_TOKEN; set the token of a bot that is an admin of \(chat)")
                }
                let mediaRoot: URL? = switch route.source {
                case .desktopExport(let path): URL(fileURLWithPath: path).deletingLastPathComponent()
                case .botAPI, .webPreview: nil
                }
                return TelegramDestination(
                    chat: chat, client: BotAPIClient(settings: telegram, http: http), mediaRoot: mediaRoot,
                    postsPerMinute: telegram.postsPerMinute, maxInlineWait: maxInlineWait, deadline: deadline, logger: logger.with("destination", "telegram:\(chat)"))
            }
        }
    }
}

/// Counts a job reports in its summary line, and the failures of routes that did not stop the others.
public struct JobSummary: Sendable, Equatable {
    public var counts: [String: Int]
    /// One line per route that failed (missing export, unwritable destination…); the other routes went on.
    public var errors: [String] = []

    public init(_ counts: [String: Int] = [:]) { self.counts = counts }

    public subscript(key: String) -> Int {
        get { counts[key, default: 0] }
        set { counts[key] = newValue }
    }

    public mutating func merge(_ other: JobSummary) {
        counts.merge(other.counts, uniquingKeysWith: +)
        errors += other.errors
    }

    /// `ok`; `partial` when some posts failed but others went through; `failed` when a route failed or every
    /// translation attempted failed (an API outage or a bad model must not look like success to a scheduler).
    public var outcome: String {
        if !errors.isEmpty { return "failed" }
        if self["failed"] > 0 { return self["translated"] == 0 ? "failed" : "partial" }
        return "ok"
    }
}

/// One stage of the pipeline.
public protocol Job: Sendable {
    /// The command name, e.g. `fetch`.
    static var name: String { get }
    /// The counters its summary always carries, zero when nothing happened.
    static var counters: [String] { get }
    func run(_ context: JobContext) async throws -> JobSummary
}

extension Job {
    /// A summary with every counter at zero.
    static var emptySummary: JobSummary { JobSummary(Dictionary(uniqueKeysWithValues: counters.map { ($0, 0) })) }
}

/// Errors that concern one route only, so the job records them and goes on with the others.
///
/// Database failures and a translator's configuration error (bad API key) affect every route and stop the job.
func isRouteLocal(_ error: Error) -> Bool {
    switch error {
    case is PostgresError, is CancellationError: false
    case let error as TranslationError: error.kind != .fatal
    default: true
    }
}
