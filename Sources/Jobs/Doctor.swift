import Core
import Foundation

/// `doctor`: checks a deployment end to end and says, for each check, whether it holds and how to fix it.
///
/// Makes no change anywhere and sends nothing to any channel: the database is queried, the Bot API is asked
/// `getMe`, `getChatMember` and `getWebhookInfo`.
public struct Doctor: Sendable {
    public struct Check: Sendable, Equatable {
        public var ok: Bool
        public var title: String
        /// What to do when the check fails.
        public var fix: String?
        public var line: String { ok ? "✓ \(title)" : "✗ \(title)" + (fix.map { " — \($0)" } ?? "") }
    }

    let context: JobContext

    public init(context: JobContext) {
        self.context = context
    }

    /// Every check, in order; checks that depend on a failed one are left out.
    public func run() async -> [Check] {
        var checks = [Check(ok: true, title: "configuration complete (\(Config.variables.count) variables known)", fix: nil)]
        let database = await Self.databaseChecks(context.store.database)
        checks += database.checks
        var routes = [context.config.defaultRoute]
        if database.current, let stored = try? await context.store.routes().map(\.route.spec) {
            routes += stored.filter { $0 != context.config.defaultRoute }
        }

        if let anthropic = context.config.anthropic {
            checks.append(await anthropicKey(anthropic))
        }
        if context.config.translation.provider == .openai, let openAI = context.config.translation.openAI {
            checks.append(await chatCompletionsServer(openAI))
        }

        let destinations = Set(routes.compactMap { route -> String? in if case .telegram(let chat) = route.destination { chat } else { nil } })
        let sources = Set(routes.compactMap { route -> String? in if case .botAPI(let chat) = route.source { chat } else { nil } })
        guard !destinations.isEmpty || !sources.isEmpty else { return checks }
        guard let telegram = context.config.telegram else {
            checks.append(Check(ok: false, title: "Telegram bot token set", fix: "set TELEGRAM_BOT_TOKEN to the token @BotFather gave"))
            return checks
        }
        let client = BotAPIClient(settings: telegram, http: context.http)
        struct Me: Decodable { var id: Int64; var username: String? }
        let me: Me
        do {
            me = try await client.call("getMe", [:], timeout: .seconds(20), as: Me.self)
            checks.append(Check(ok: true, title: "Telegram bot token valid (@\(me.username ?? String(me.id)))", fix: nil))
        } catch {
            checks.append(Check(ok: false, title: "Telegram bot token valid", fix: "\(error); set TELEGRAM_BOT_TOKEN to the token @BotFather gave"))
            return checks
        }
        for chat in destinations.sorted() {
            checks.append(await rights(client, bot: me.id, chat: chat, post: true))
        }
        for chat in sources.sorted() {
            checks.append(await rights(client, bot: me.id, chat: chat, post: false))
        }
        if !sources.isEmpty {
            struct Webhook: Decodable { var url: String }
            if let hook = try? await client.call("getWebhookInfo", [:], timeout: .seconds(20), as: Webhook.self), !hook.url.isEmpty {
                checks.append(Check(ok: false, title: "bot updates free for getUpdates",
                                    fix: "the bot has a webhook, so getUpdates cannot read its updates; remove it with deleteWebhook or use another bot"))
            } else {
                checks.append(Check(ok: true, title: "bot updates free for getUpdates (no webhook)", fix: nil))
            }
        }
        return checks
    }

    /// The database checks, which need only `DATABASE_URL` (so they run even when the rest of the
    /// configuration is incomplete): reachable, schema current, pgvector.
    public static func databaseChecks(_ database: Database) async -> (checks: [Check], current: Bool) {
        var checks: [Check] = []
        do {
            let version: String = try await database.withConnection { conn in
                try conn.query("SELECT current_setting('server_version') AS v").first!.decode("v")
            }
            checks.append(Check(ok: true, title: "database reachable (PostgreSQL \(version))", fix: nil))
        } catch {
            let text = String(describing: error)
            checks.append(Check(ok: false, title: "database reachable", fix: text.contains("DATABASE_URL") ? text : "\(text); check DATABASE_URL (host, port, password, sslmode)"))
            return (checks, false)
        }
        do {
            try await SchemaCheck.ensureCurrent(database)
            checks.append(Check(ok: true, title: "database schema current (version \(Migration.all.last?.version ?? 0))", fix: nil))
        } catch {
            checks.append(Check(ok: false, title: "database schema current", fix: String(describing: error)))
            return (checks, false)
        }
        checks.append((try? await pgvector(database)) ?? Check(ok: false, title: "pgvector enabled", fix: "could not read pg_extension; check the database role's rights"))
        return (checks, true)
    }

    /// pgvector, which the translation memory needs: enabled by `migrate` where the server offers it.
    private static func pgvector(_ database: Database) async throws -> Check {
        let (enabled, available): (String?, String?) = try await database.withConnection { conn in
            let row = try conn.query("""
                SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS enabled,
                       (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS available
                """).first!
            return (try row.decodeIfPresent("enabled"), try row.decodeIfPresent("available"))
        }
        if let enabled { return Check(ok: true, title: "pgvector \(enabled) enabled", fix: nil) }
        if available != nil {
            return Check(ok: false, title: "pgvector enabled", fix: "the server has pgvector but the database does not use it; run `JobRunner migrate` (or CREATE EXTENSION vector)")
        }
        return Check(ok: false, title: "pgvector enabled",
                     fix: "this PostgreSQL server has no pgvector; on Supabase enable it under Database → Extensions, elsewhere install the pgvector package")
    }

    /// The Anthropic key and model, through token counting (free; nothing is generated).
    private func anthropicKey(_ settings: Config.AnthropicSettings) async -> Check {
        struct Count: Encodable {
            struct Message: Encodable { var role = "user"; var content = "ping" }
            var model: String
            var messages = [Message()]
        }
        let title = "Anthropic key valid for \(settings.model)"
        do {
            let request = try HTTPRequest.json(settings.baseURL + "/v1/messages/count_tokens", Count(model: settings.model),
                                               headers: [("x-api-key", settings.apiKey), ("anthropic-version", "2023-06-01")], timeout: .seconds(20))
            let response = try await context.http.send(request)
            switch response.status {
            case 200: return Check(ok: true, title: title + " (token counting answered)", fix: nil)
            case 401, 403: return Check(ok: false, title: title, fix: "Anthropic rejected ANTHROPIC_API_KEY (\(response.status)); create a key in the Anthropic console and set it")
            case 404: return Check(ok: false, title: title, fix: "Anthropic does not know CLAUDE_MODEL=\(settings.model) (404); set a current model id")
            default: return Check(ok: false, title: title, fix: "Anthropic answered HTTP \(response.status); try again later, or check ANTHROPIC_BASE_URL")
            }
        } catch {
            return Check(ok: false, title: title, fix: "\(error); check the network and ANTHROPIC_BASE_URL")
        }
    }

    /// The OpenAI-compatible server answers and serves the model (`GET /v1/models`, which OpenAI, Ollama,
    /// llama.cpp and vLLM all have; nothing is generated).
    private func chatCompletionsServer(_ settings: OpenAIChatBackend.Settings) async -> Check {
        struct Models: Decodable {
            struct Model: Decodable { var id: String }
            var data: [Model]
        }
        let title = "chat-completions server at \(settings.baseURL) serves \(settings.model)"
        let headers = settings.apiKey.map { [("authorization", "Bearer \($0)")] } ?? []
        do {
            let response = try await context.http.send(HTTPRequest(method: .GET, url: settings.baseURL + "/v1/models", headers: headers, timeout: .seconds(20)))
            switch response.status {
            case 200:
                guard let models = try? response.decode(Models.self) else {
                    return Check(ok: false, title: title, fix: "GET /v1/models did not answer a model list; check OPENAI_BASE_URL points at an OpenAI-compatible server")
                }
                if models.data.contains(where: { $0.id == settings.model }) { return Check(ok: true, title: title, fix: nil) }
                let served = models.data.prefix(5).map(\.id).joined(separator: ", ")
                return Check(ok: false, title: title, fix: "the server does not list OPENAI_MODEL=\(settings.model); it serves \(served.isEmpty ? "no model" : served)")
            case 401, 403: return Check(ok: false, title: title, fix: "the server refused the key (\(response.status)); set a valid OPENAI_API_KEY")
            default: return Check(ok: false, title: title, fix: "GET /v1/models answered HTTP \(response.status); check OPENAI_BASE_URL")
            }
        } catch {
            return Check(ok: false, title: title, fix: "\(error); start the server or check OPENAI_BASE_URL")
        }
    }

    /// Whether the bot is an admin of `chat`, allowed to post there when `post`.
    private func rights(_ client: BotAPIClient, bot: Int64, chat: String, post: Bool) async -> Check {
        struct Member: Decodable {
            var status: String
            var can_post_messages: Bool?
        }
        let title = post ? "bot may post in \(chat)" : "bot is an admin of source \(chat) (receives its posts)"
        let chatID: JSONValue = Int64(chat).map(JSONValue.int) ?? .string(chat)
        do {
            let member = try await client.call("getChatMember", ["chat_id": chatID, "user_id": .int(bot)], timeout: .seconds(20), as: Member.self)
            let ok = member.status == "creator" || (member.status == "administrator" && (!post || member.can_post_messages != false))
            return Check(ok: ok, title: title, fix: ok ? nil : "the bot is \(member.status) there; make it an admin of \(chat)" + (post ? " with the right to post messages" : ""))
        } catch {
            return Check(ok: false, title: title, fix: "\(error); add the bot to \(chat) as an admin" + (post ? " allowed to post messages" : ""))
        }
    }
}
