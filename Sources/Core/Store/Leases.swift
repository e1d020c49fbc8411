import Foundation

extension MirrorStore {
    /// Who holds a lease, until when.
    public struct LeaseHolder: Sendable, Equatable {
        public var holder: String
        public var expiresAt: Date
    }

    /// Takes the lease `name` for `holder` for `ttl`, unless another holder's lease is still valid.
    ///
    /// - Returns: `nil` when taken (an expired lease of another holder is taken over, with an event), or the
    ///   current holder when it is not.
    public func acquireLease(_ name: String, holder: String, ttl: Duration) async throws -> LeaseHolder? {
        try await database.transaction { conn in
            let previous = try conn.query("SELECT holder FROM mirror.leases WHERE name = $1 FOR UPDATE", [name]).first
                .map { try $0.decode("holder", as: String.self) }
            let taken = try conn.query("""
                INSERT INTO mirror.leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
                ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, acquired_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at
                WHERE mirror.leases.expires_at < now() OR mirror.leases.holder = EXCLUDED.holder
                RETURNING holder
                """, [name, holder, Double(ttl.components.seconds)]).count == 1
            if taken {
                if let previous, previous != holder {
                    try Self.recordEvent(conn, kind: "lease_taken_over", detail: ["lease": name, "from": previous, "by": holder])
                }
                return nil
            }
            let row = try conn.query("SELECT holder, extract(epoch FROM expires_at)::float8 AS until FROM mirror.leases WHERE name = $1", [name]).first!
            return LeaseHolder(holder: try row.decode("holder"), expiresAt: Date(timeIntervalSince1970: try row.decode("until", as: Double.self)))
        }
    }

    /// Extends a held lease; `false` when it is no longer this holder's (it expired and was taken over).
    @discardableResult
    public func renewLease(_ name: String, holder: String, ttl: Duration) async throws -> Bool {
        try await database.transaction { conn in
            try conn.query("""
                UPDATE mirror.leases SET heartbeat_at = now(), expires_at = now() + make_interval(secs => $3) WHERE name = $1 AND holder = $2
                """, [name, holder, Double(ttl.components.seconds)]).affectedRows == 1
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await database.transaction { conn in
            try conn.query("DELETE FROM mirror.leases WHERE name = $1 AND holder = $2", [name, holder])
        }
    }
}
