import Foundation
import Testing
import TestSupport
import Core
#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL going away under a running worker, on a cluster of the test's own (the shared one stays up).
@Suite struct DatabaseOutageTests {
    /// A throwaway cluster on a unix socket, run as the `postgres` user when the tests run as root.
    struct Cluster {
        let dir: URL
        let bin: URL
        var socket: URL { dir.appendingPathComponent("sock") }
        var data: URL { dir.appendingPathComponent("data") }
        var url: String { "host=\(socket.path) dbname=postgres user=postgres connect_timeout=3" }

        init() throws {
            bin = URL(fileURLWithPath: try #require(ProcessInfo.processInfo.environment["TEST_PG_BIN"]))
            dir = URL(fileURLWithPath: "/tmp/cm-outage-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: socket, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            _ = try pg(["/bin/chown", "-R", "postgres", dir.path], asPostgres: false)
            _ = try pg(["/bin/chmod", "755", dir.path], asPostgres: false)
            let initdb = try pg([bin.appendingPathComponent("initdb").path, "-D", data.path, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
            guard initdb.status == 0 else { throw POSIXError(.EIO) }
        }

        func pg(_ command: [String], asPostgres: Bool = true) throws -> ProcessOutput {
            let root = getuid() == 0
            let argv = asPostgres && root ? ["-u", "postgres", "--"] + command : Array(command.dropFirst())
            let exe = asPostgres && root ? URL(fileURLWithPath: "/usr/sbin/runuser") : URL(fileURLWithPath: command[0])
            return try ProcessRunner.run(exe, argv)
        }

        /// Through `system()`: the server outlives pg_ctl, and a `Process` would wait on descriptors it inherited.
        func start() throws {
            guard shell("\(bin.appendingPathComponent("pg_ctl").path) -D \(data.path) -l \(dir.appendingPathComponent("log").path) -w -t 30 -o \"-c listen_addresses='' -c unix_socket_directories='\(socket.path)' -c fsync=off\" start") == 0
            else { throw POSIXError(.EIO) }
        }

        func stop() throws {
            _ = shell("\(bin.appendingPathComponent("pg_ctl").path) -D \(data.path) -m immediate -w stop")
        }

        func shell(_ command: String) -> Int32 {
            let asPostgres = getuid() == 0 ? "/usr/sbin/runuser -u postgres -- " : ""
            return system("\(asPostgres)\(command) </dev/null >/dev/null 2>&1")
        }

        func remove() {
            try? stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    @Test func theWorkerLoopSurvivesARestartAndAOneOffFailsClearly() async throws {
        let cluster = try Cluster()
        defer { cluster.remove() }
        try cluster.start()
        try await Paths.withTemporaryDirectory { dir in
            let env = ["DATABASE_URL": cluster.url, "SRC_CHANNEL": "export:\(Paths.sampleExport.path)", "DST_CHANNEL": "files:\(dir.path)/out", "TARGET_LANG": "en"]
            #expect(try ProcessRunner.run(Paths.jobRunner, ["migrate"], environment: env).status == 0)
            let process = Process()
            process.executableURL = Paths.jobRunner
            process.arguments = ["all", "--every", "1s"]
            process.environment = env
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .seconds(2))
            try cluster.stop()
            // While it is down, a one-off fails with one clear line and exit 1.
            let oneOff = try ProcessRunner.run(Paths.jobRunner, ["fetch"], environment: env)
            #expect(oneOff.status == 1)
            #expect(oneOff.stderr.hasPrefix("error: ") && oneOff.stderr.contains("DATABASE_URL"))
            #expect(oneOff.stderr.contains("failed: No such file or directory; Is the server running locally"))  // libpq's lines kept apart
            #expect(oneOff.stdout.contains("msg=\"run finished\" job=fetch summary=\"outcome=failed\""))  // the summary line still comes
            try await Task.sleep(for: .seconds(3))
            let restarted = Date()
            try cluster.start()
            // Back up: the loop reconnects by itself at its next (backed-off) attempt and completes a run.
            let database = Database(try ConnectionString(cluster.url), logger: Logger(level: .error))
            let deadline = Date().addingTimeInterval(40)
            var recovered = false
            while Date() < deadline, !recovered {
                try await Task.sleep(for: .milliseconds(500))
                recovered = (try? await database.withConnection { conn in
                    try conn.query("SELECT count(*)::int AS n FROM mirror.job_runs WHERE outcome = 'ok' AND started_at > $1::timestamptz", [restarted])
                        .first!.decode("n", as: Int.self)
                }) ?? 0 > 0
            }
            process.terminate()
            process.waitUntilExit()
            let log = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0)
            #expect(log.contains("msg=\"iteration failed; retrying\""))
            #expect(log.contains("attempt=1") && log.contains("retry_in="))
            #expect(log.contains("msg=recovered"))
            #expect(recovered)
            let records = try FileDestination(directory: dir.path + "/out").readRecords()
            #expect(records.flatMap(\.items).count == 10)  // every post once, outage or not
        }
    }
}
