import Core
import Foundation

/// Runs work under a lease: taken first, renewed every third of its lifetime while the work runs, given back
/// after. When another run holds it, the work is not done and the holder is returned.
struct LeaseGuard {
    static let ttl: Duration = .seconds(60)

    /// This process's name for itself in leases and claims: host, pid and a per-run suffix.
    static func holderName() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
    }

    static func with<T>(
        _ name: String, holder: String, store: MirrorStore, _ work: () async throws -> T
    ) async throws -> Result<T, HeldElsewhere> {
        if let current = try await store.acquireLease(name, holder: holder, ttl: ttl) {
            return .failure(HeldElsewhere(lease: name, holder: current.holder, until: current.expiresAt))
        }
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: ttl / 3)
                if Task.isCancelled { break }
                _ = try? await store.renewLease(name, holder: holder, ttl: ttl)
            }
        }
        do {
            let value = try await work()
            heartbeat.cancel()
            try? await store.releaseLease(name, holder: holder)
            return .success(value)
        } catch {
            heartbeat.cancel()
            try? await store.releaseLease(name, holder: holder)
            throw error
        }
    }
}

/// Another run holds the lease; this one skips that work (exit 0), as overlapping Scheduler runs should.
struct HeldElsewhere: Error, CustomStringConvertible {
    var lease: String
    var holder: String
    var until: Date
    var description: String { "skipped: \(lease) held by \(holder) until \(until.formatted(.iso8601))" }
}
