import Foundation

/// Where the process runs, as the first log line of every job says: Heroku sets `DYNO` on every dyno
/// (`worker.1`, `scheduler.4821`, `run.7310`), CI sets `CI`, and the test scripts set `TEST_DATABASE_URL`.
public struct RuntimeEnvironment: Sendable, Equatable {
    public enum Kind: String, Sendable { case production, test, local }
    public var kind: Kind
    /// The dyno name on Heroku.
    public var dyno: String?

    public static func detect(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> RuntimeEnvironment {
        if let dyno = environment["DYNO"], !dyno.isEmpty { return RuntimeEnvironment(kind: .production, dyno: dyno) }
        if environment["CI"].map({ !$0.isEmpty && $0 != "false" }) == true || environment["TEST_DATABASE_URL"] != nil {
            return RuntimeEnvironment(kind: .test, dyno: nil)
        }
        return RuntimeEnvironment(kind: .local, dyno: nil)
    }

    /// `production (heroku worker.1)`, `test`, `local`.
    public var description: String { dyno.map { "\(kind.rawValue) (heroku \($0))" } ?? kind.rawValue }
}
