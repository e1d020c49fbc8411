import Core
import Foundation

/// A parsed command line.
struct Invocation: Equatable {
    enum Command: String, CaseIterable {
        case fetch
        case translatePending = "translate-pending"
        case publish
        case all
        case migrate
    }

    var command: Command?
    var every: Duration?
    var help = false

    static func parse(_ arguments: [String]) throws(UsageError) -> Invocation {
        var invocation = Invocation()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--help", "-h", "help":
                invocation.help = true
            case "--every", _ where argument.hasPrefix("--every=") && invocation.every != nil:
                guard invocation.every == nil else { throw UsageError(description: "--every is given more than once") }
                index += 1
                guard index < arguments.count else { throw UsageError(description: "--every needs a duration, e.g. --every 30s") }
                invocation.every = try parseDuration(arguments[index])
            case _ where argument.hasPrefix("--every="):
                invocation.every = try parseDuration(String(argument.dropFirst("--every=".count)))
            case _ where argument.hasPrefix("-"):
                throw UsageError(description: "unknown option \(argument)")
            default:
                guard invocation.command == nil else { throw UsageError(description: "unexpected argument \(argument)") }
                guard let command = Command(rawValue: argument) else {
                    throw UsageError(description: "unknown command \(argument); commands: \(Command.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                invocation.command = command
            }
            index += 1
        }
        if invocation.every != nil, invocation.command == .migrate {
            throw UsageError(description: "--every cannot be used with migrate")
        }
        return invocation
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
        (.all, "fetch, translate-pending and publish, in that order"),
        (.migrate, "create or update the database schema"),
    ]

    static var general: String {
        var text = """
            USAGE: JobRunner <command> [--every DURATION]

            COMMANDS:

            """
        for (command, summary) in commands { text += "  \(command.rawValue.padding(toLength: 19, withPad: " ", startingAt: 0))\(summary)\n" }
        text += """

            OPTIONS:
              --every DURATION   repeat the command until SIGTERM/SIGINT (e.g. 30s, 5m)
              -h, --help         show help for a command

            ENVIRONMENT (also read from .env and app_settings.env; the environment wins):

            """
        for (name, meaning) in Config.variables { text += "  \(name.padding(toLength: 19, withPad: " ", startingAt: 0))\(meaning)\n" }
        text += "\nEXIT CODES: 0 success or clean stop, 1 failure, 64 usage error, 78 configuration error\n"
        return text
    }

    static func command(_ command: Invocation.Command) -> String {
        let summary = commands.first { $0.0 == command }!.1
        switch command {
        case .migrate:
            return """
                USAGE: JobRunner migrate

                \(summary). Safe to run from several processes at once; needs only DATABASE_URL.

                """
        default:
            return """
                USAGE: JobRunner \(command.rawValue) [--every DURATION]

                \(summary).

                OPTIONS:
                  --every DURATION   repeat until SIGTERM/SIGINT, stopping cleanly between stages (e.g. 30s)
                  -h, --help         show this help

                Run `JobRunner --help` for the environment variables.

                """
        }
    }
}
