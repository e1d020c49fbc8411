import Core
import Foundation

/// A parsed command line.
struct Invocation: Equatable {
    enum Command: String, CaseIterable {
        case fetch
        case translatePending = "translate-pending"
        case publish
        case aggregateAnalytics = "aggregate-analytics"
        case all
        case status
        case report
        case retry
        case skip
        case migrate
        case doctor
        case glossary

        /// Pipeline stages: they may loop with `--every` and need the full configuration.
        var isJob: Bool { [.fetch, .translatePending, .publish, .aggregateAnalytics, .all].contains(self) }
    }

    var command: Command?
    var every: Duration?
    /// `--max-runtime`: the process ends by then, stopping at a safe point before it.
    var maxRuntime: Duration?
    var help = false
    /// `status --json`
    var json = false
    /// `report --since`; seven days when not given.
    var since: Duration?
    /// `report --format`
    var format: ReportFormat?
    /// `retry`/`skip --route`
    var route: Int64?
    /// The post id `retry` and `skip` act on.
    var postID: Int64?
    /// `migrate --emit-supabase DIR`: write the Supabase CLI migration files instead of migrating.
    var emitSupabase: String?
    /// `glossary import FILE` or `glossary export [FILE]`.
    var glossaryAction: GlossaryAction?
    var file: String?
    /// `glossary import --replace`: the file becomes the whole glossary of the pair.
    var replace = false
    /// `glossary --from/--to`: the language pair (default SOURCE_LANG and TARGET_LANG).
    var from: LanguageCode?
    var to: LanguageCode?

    enum GlossaryAction: String, CaseIterable { case `import`, export }

    static func parse(_ arguments: [String]) throws(UsageError) -> Invocation {
        var invocation = Invocation()
        var index = 0
        let examples = ["--every": "30s", "--max-runtime": "9m", "--since": "7d", "--format": "html", "--route": "1", "--emit-supabase": "supabase/migrations", "--from": "uk", "--to": "en"]
        /// The value of `--name VALUE` or `--name=VALUE`.
        func value(_ name: String, _ argument: String) throws(UsageError) -> String {
            if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
            index += 1
            guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                throw UsageError(description: "\(name) needs a value, e.g. \(name) \(examples[name] ?? "")")
            }
            return arguments[index]
        }
        func isOption(_ argument: String, _ name: String) -> Bool { argument == name || argument.hasPrefix(name + "=") }
        var seen: Set<String> = []
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.hasPrefix("--") ? String(argument.prefix { $0 != "=" }) : argument
            if name.hasPrefix("--"), !seen.insert(name).inserted {
                throw UsageError(description: "\(name) is given more than once")
            }
            switch argument {
            case "--help", "-h", "help":
                invocation.help = true
            case _ where isOption(argument, "--every"):
                invocation.every = try parseDuration(try value("--every", argument))
            case _ where isOption(argument, "--max-runtime"):
                let duration = try parseDuration(try value("--max-runtime", argument))
                guard duration >= .seconds(10) else { throw UsageError(description: "--max-runtime must be at least 10s") }
                invocation.maxRuntime = duration
            case "--json":
                invocation.json = true
            case _ where isOption(argument, "--since"):
                invocation.since = try parseWindow(try value("--since", argument))
            case _ where isOption(argument, "--format"):
                let text = try value("--format", argument)
                guard let format = ReportFormat(rawValue: text) else {
                    throw UsageError(description: "unknown format \(text); use one of \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                invocation.format = format
            case _ where isOption(argument, "--emit-supabase"):
                invocation.emitSupabase = try value("--emit-supabase", argument)
            case "--replace":
                invocation.replace = true
            case _ where isOption(argument, "--from") || isOption(argument, "--to"):
                let option = isOption(argument, "--from") ? "--from" : "--to"
                let text = try value(option, argument)
                guard let language = LanguageCode(text) else { throw UsageError(description: "\(option) \(text) is not a language code; use e.g. \(option) \(examples[option]!)") }
                if option == "--from" { invocation.from = language } else { invocation.to = language }
            case _ where isOption(argument, "--route"):
                let text = try value("--route", argument)
                guard let route = Int64(text), route > 0 else { throw UsageError(description: "--route needs a route id, e.g. --route 1") }
                invocation.route = route
            case _ where argument.hasPrefix("-") && argument != "-":
                throw UsageError(description: "unknown option \(argument)")
            default:
                if invocation.command == .glossary, invocation.glossaryAction == nil {
                    guard let action = GlossaryAction(rawValue: argument) else {
                        throw UsageError(description: "unknown glossary action \(argument); use `glossary import FILE` or `glossary export [FILE]`")
                    }
                    invocation.glossaryAction = action
                } else if invocation.command == .glossary, invocation.file == nil {
                    invocation.file = argument
                } else if invocation.command == .retry || invocation.command == .skip, invocation.postID == nil {
                    guard let id = Int64(argument), id > 0 else {
                        throw UsageError(description: "\(argument) is not a post id; use the id `JobRunner status` shows, e.g. `JobRunner \(invocation.command!.rawValue) 42`")
                    }
                    invocation.postID = id
                } else {
                    guard invocation.command == nil else { throw UsageError(description: "unexpected argument \(argument)") }
                    guard let command = Command(rawValue: argument) else {
                        throw UsageError(description: "unknown command \(argument); commands: \(Command.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    invocation.command = command
                }
            }
            index += 1
        }
        guard !invocation.help, let command = invocation.command else { return invocation }
        let allowed: Set<String> = switch command {
        case .fetch, .translatePending, .publish, .aggregateAnalytics, .all: ["--every", "--max-runtime"]
        case .status: ["--json"]
        case .report: ["--since", "--format"]
        case .retry, .skip: ["--route"]
        case .migrate: ["--emit-supabase"]
        case .doctor: []
        case .glossary: invocation.glossaryAction == .import ? ["--from", "--to", "--replace"] : ["--from", "--to"]
        }
        if let misplaced = seen.subtracting(allowed).subtracting(["--help"]).sorted().first {
            throw UsageError(description: "\(misplaced) cannot be used with \(command.rawValue)")
        }
        if command == .glossary {
            guard let action = invocation.glossaryAction else {
                throw UsageError(description: "glossary needs an action: `glossary import FILE` or `glossary export [FILE]`")
            }
            if action == .import, invocation.file == nil {
                throw UsageError(description: "glossary import needs a CSV file, e.g. `JobRunner glossary import terms.csv` (rows: source,target[,note])")
            }
        }
        if command == .retry || command == .skip, invocation.postID == nil {
            throw UsageError(description: "\(command.rawValue) needs a post id, e.g. `JobRunner \(command.rawValue) 42` (`JobRunner status` lists parked posts)")
        }
        return invocation
    }

    /// `7d`, `24h`, `90m`: how far back a report reaches (one hour to ten years).
    static func parseWindow(_ text: String) throws(UsageError) -> Duration {
        let invalid = UsageError(description: "invalid --since \(text); use e.g. 7d, 24h, 30d")
        guard let unit = text.last, let value = Int(text.dropLast()), value > 0, value <= 100_000 else { throw invalid }
        let seconds: Int
        switch unit {
        case "d": seconds = value * 86400
        case "h": seconds = value * 3600
        case "m": seconds = value * 60
        default: throw invalid
        }
        guard seconds >= 3600, seconds <= 3650 * 86400 else { throw UsageError(description: "--since must be between 1h and 3650d") }
        return .seconds(seconds)
    }

    /// `30s`, `5m`, `1h30m`, `500ms`; at least one second between runs.
    static func parseDuration(_ text: String) throws(UsageError) -> Duration {
        var total = Duration.zero
        var number = ""
        var unit = ""
        var parts: [(String, String)] = []
        for c in text {
            if c.isNumber {
                if !unit.isEmpty {
                    parts.append((number, unit))
                    number = ""
                    unit = ""
                }
                number.append(c)
            } else {
                unit.append(c)
            }
        }
        parts.append((number, unit))
        for (digits, unit) in parts {
            guard let value = Int(digits), value <= 10_000_000 else { throw UsageError(description: "invalid duration \(text); use e.g. 30s, 5m, 1h") }
            switch unit {
            case "ms": total += .milliseconds(value)
            case "s": total += .seconds(value)
            case "m": total += .seconds(value * 60)
            case "h": total += .seconds(value * 3600)
            default: throw UsageError(description: "invalid duration \(text); use e.g. 30s, 5m, 1h")
            }
        }
        guard total >= .seconds(1) else { throw UsageError(description: "--every must be at least 1s") }
        guard total <= .seconds(7 * 24 * 3600) else { throw UsageError(description: "--every must be at most 168h (7 days)") }
        return total
    }
}

enum HelpText {
    static let commands: [(Invocation.Command, String)] = [
        (.fetch, "import new source posts since the stored offset"),
        (.translatePending, "translate posts that have no translation yet"),
        (.publish, "publish translated, unpublished posts to each route's destination"),
        (.aggregateAnalytics, "roll new events into hourly and daily figures per route"),
        (.all, "fetch, translate-pending, publish and aggregate-analytics, in that order"),
        (.status, "backlog, stuck posts and last runs per route (--json for machines)"),
        (.report, "volume, latency, cost and failures over time (--since 7d --format table|json|csv|html)"),
        (.retry, "make a parked, skipped, uncertain or refused post eligible again: retry POST_ID [--route ID]"),
        (.skip, "never publish a post (its whole album): skip POST_ID [--route ID]"),
        (.migrate, "create or update the database schema"),
        (.doctor, "check the deployment: configuration, database, Telegram token and rights (changes nothing)"),
        (.glossary, "import or export the term pairs translations must use: glossary import FILE | export [FILE]"),
    ]

    static var general: String {
        var text = """
            USAGE: JobRunner <command> [options]

            COMMANDS:

            """
        for (command, summary) in commands { text += "  \(command.rawValue.padding(toLength: 21, withPad: " ", startingAt: 0))\(summary)\n" }
        text += """

            OPTIONS:
              --every DURATION   repeat a pipeline command until SIGTERM/SIGINT (e.g. 30s, 5m)
              --max-runtime D    end a pipeline command by then, stopping at a safe point first (e.g. 9m)
              -h, --help         show help for a command

            ENVIRONMENT (also read from .env and app_settings.env; the environment wins):

            """
        let width = max(21, (Config.variables.map(\.name.count).max() ?? 0) + 2)
        for (name, meaning) in Config.variables { text += "  \(name.padding(toLength: width, withPad: " ", startingAt: 0))\(meaning)\n" }
        text += "\nEXIT CODES: 0 success or clean stop, 1 failure, 64 usage error, 78 configuration error\n"
        return text
    }

    static func command(_ command: Invocation.Command) -> String {
        let summary = commands.first { $0.0 == command }!.1
        switch command {
        case .migrate:
            return """
                USAGE: JobRunner migrate [--emit-supabase DIR]

                \(summary). Safe to run from several processes at once; needs only DATABASE_URL.

                OPTIONS:
                  --emit-supabase DIR  write the migrations as Supabase CLI files (DIR/<timestamp>_<name>.sql)
                                       instead of migrating; needs no database
                  -h, --help           show this help

                """
        case .doctor:
            return """
                USAGE: JobRunner doctor

                \(summary). One line per check, ✓ or ✗ with the fix; exit 1 when any check fails. Checks: the
                configuration, the database and its schema, and for Telegram routes the bot token (getMe), the
                bot's rights in every destination and source channel (getChatMember) and, for botapi: sources,
                that no webhook takes the updates. Sends no message.

                """
        case .status:
            return """
                USAGE: JobRunner status [--json]

                Per route: posts waiting for translation and for publication, the age of the oldest waiting post,
                parked posts with their last error, posts marked publishing, publications set aside (uncertain or
                refused by the destination) with the reason, a flood-control rest, source gaps; each job's last run and outcome;
                hours not yet rolled up. Needs only DATABASE_URL.

                OPTIONS:
                  --json             one JSON document instead of text
                  -h, --help         show this help

                """
        case .report:
            return """
                USAGE: JobRunner report [--since WINDOW] [--format table|json|csv|html]

                Posts fetched, translated, published and failed; TM hit rate; requests; tokens by kind; cost;
                latency from the source post to publication (p50, p95, max). By day, or by hour for windows up
                to 48h, for all routes and per route. Brings the rollups up to date first. Needs only DATABASE_URL.
                The HTML report is one self-contained file: `JobRunner report --format html > report.html`.

                OPTIONS:
                  --since WINDOW     how far back, e.g. 24h, 7d, 30d (default 7d)
                  --format FORMAT    table (default), json, csv or html
                  -h, --help         show this help

                """
        case .glossary:
            return """
                USAGE: JobRunner glossary import FILE [--replace] [--from LANG] [--to LANG]
                       JobRunner glossary export [FILE] [--from LANG] [--to LANG]

                The glossary of one language pair (default SOURCE_LANG → TARGET_LANG): term pairs the translator is
                told to use and its answers are checked for. CSV rows source,target[,note] with an optional header
                row; quoting as in RFC 4180; FILE - is stdin. import adds or updates terms (a source term matches in any letter
                case; --replace makes the file the whole glossary); export writes the pair's terms to FILE or
                stdout. Recorded as an event. Needs only DATABASE_URL.

                OPTIONS:
                  --from LANG        source language (default SOURCE_LANG)
                  --to LANG          target language (default TARGET_LANG)
                  --replace          import: remove the pair's terms that are not in FILE
                  -h, --help         show this help

                """
        case .retry, .skip:
            return """
                USAGE: JobRunner \(command.rawValue) POST_ID [--route ID]

                \(command == .retry
                    ? "Clears the post's failed attempts, a skip, or an uncertain or refused publication, so the next runs translate and publish it."
                    : "Marks the post as never to be published; posts already published stay as they are.")
                Acts on the post's whole album, on every route that reads its channel unless --route names one.
                The post ids are those `JobRunner status` shows. Recorded as an event. Needs only DATABASE_URL.

                OPTIONS:
                  --route ID         act on this route only
                  -h, --help         show this help

                """
        default:
            return """
                USAGE: JobRunner \(command.rawValue) [--every DURATION] [--max-runtime DURATION]

                \(summary).

                OPTIONS:
                  --every DURATION        repeat until SIGTERM/SIGINT, stopping cleanly between stages (e.g. 30s)
                  --max-runtime DURATION  end by then: new work stops being taken shortly before (the last
                                          tenth, at most 30 s), requests still in flight at the end are
                                          abandoned, and the run exits 0 as stopped (e.g. 9m for a 10-minute
                                          Scheduler interval)
                  -h, --help              show this help

                Run `JobRunner --help` for the environment variables.

                """
        }
    }
}
