/// One ordered schema change. Versions are never reused or edited once released.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// The private schema that holds every table, so nothing lands in `public` (which Supabase's Data API exposes).
public let databaseSchema = "mirror"
