import Core

/// Process exit statuses, following BSD `sysexits.h` where one fits.
public enum ExitCode: Int32, Sendable {
    /// Success, or a clean stop after SIGTERM/SIGINT.
    case success = 0
    /// The job failed; the error line says why.
    case failure = 1
    /// Unknown command or flag, or a bad flag value (`EX_USAGE`).
    case usage = 64
    /// The configuration is incomplete or invalid (`EX_CONFIG`).
    case config = 78

    /// The one place where errors become exit codes.
    static func forError(_ error: Error) -> ExitCode {
        switch error {
        case is UsageError: .usage
        case is Config.ValidationError: .config
        case let error as PostgresError where error.code == .invalidConnectionString: .config
        default: .failure
        }
    }
}

/// A command line that cannot be understood.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
