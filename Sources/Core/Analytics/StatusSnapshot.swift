import Foundation

/// What `JobRunner status` shows: per route, the backlog of each stage and what is stuck; each job's last run.
public struct StatusSnapshot: Sendable, Codable {
    public var generatedAt: Date
    public var routes: [RouteStatus]
    public var jobs: [JobRun]
    /// Hours with events the rollups do not reflect yet (run `aggregate-analytics`).
    public var analyticsPendingHours: Int
    /// Leases still valid: which run works on which source or route, until when.
    public var leases: [Lease] = []
    /// Message Batches submitted and not collected yet.
    public var messageBatches: [MessageBatch] = []

    public struct MessageBatch: Sendable, Codable {
        public var id: String
        public var targetLanguage: String
        public var posts: Int
        public var submittedAt: Date
    }

    public struct Lease: Sendable, Codable {
        public var name: String
        public var holder: String
        public var expiresAt: Date
    }

    public struct RouteStatus: Sendable, Codable {
        public var id: Int64
        public var source: String
        public var destination: String
        public var targetLanguage: String
        public var enabled: Bool
        public var sourceChatID: Int64
        /// Newest source message id imported, and when the offset last moved.
        public var fetchedThroughMessageID: Int64?
        public var lastFetchAt: Date?
        /// Posts waiting for a translation (parked and skipped ones excluded).
        public var awaitingTranslation: Int
        /// Posts ready to publish (translated, or nothing to translate).
        public var awaitingPublication: Int
        public var published: Int
        public var skipped: Int
        /// Age in seconds of the oldest post waiting for either stage, since it was fetched.
        public var oldestWaitingSeconds: Double?
        public var oldestWaitingPostID: Int64?
        public var parked: [StuckPost]
        /// Posts marked `publishing`: a run is sending them, or one stopped while it did.
        public var publishing: [StuckPost]
        /// Every publication set aside for the operator (each needs a decision, so none is left out):
        /// `uncertain` (a send cut off without an answer) or `failed` (the destination refused it); `reason`
        /// starts with the state.
        public var setAside: [StuckPost]
        /// The route rests after flood control until then, and why.
        public var restingUntil: Date?
        public var restingReason: String?
        /// How many message ids the source could not deliver (web preview gaps), and the first ranges as `from-to`.
        public var gaps: Int
        public var gapRanges: [String]
    }

    public struct StuckPost: Sendable, Codable {
        public var postID: Int64
        public var messageID: Int64
        public var since: Date
        public var attempts: Int?
        public var reason: String?
    }

    public struct JobRun: Sendable, Codable {
        public var job: String
        public var host: String
        public var pid: Int
        public var startedAt: Date
        public var finishedAt: Date?
        public var outcome: String?
        public var summary: String?
        public var error: String?
    }
}

extension MirrorStore {
    /// Reads the whole status in one snapshot-consistent transaction.
    public func status(listLimit: Int = 50) async throws -> StatusSnapshot {
        try await database.transaction { conn in
            try conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            let now: Date = try conn.query("SELECT now() AS now").first!.decode("now")
            var routes: [StatusSnapshot.RouteStatus] = []
            for row in try conn.query("""
                SELECT r.id, r.source, r.destination, r.target_lang, r.enabled, r.source_chat_id,
                       o.last_message_id, o.updated_at AS last_fetch_at,
                       CASE WHEN r.retry_at > now() THEN r.retry_at END AS resting_until, r.retry_reason
                FROM mirror.routes r LEFT JOIN mirror.source_offsets o ON o.chat_id = r.source_chat_id
                ORDER BY r.id
                """) {
                let id: Int64 = try row.decode("id")
                let chatID: Int64 = try row.decode("source_chat_id")
                let lang: String = try row.decode("target_lang")
                let counts = try conn.query("""
                    WITH state AS (
                        SELECT p.id, p.fetched_at, x.state,
                               p.needs_translation AND t.post_id IS NULL AS untranslated,
                               p.needs_translation AND t.post_id IS NULL AND COALESCE(f.parked, false) AS parked
                        FROM mirror.posts p
                        LEFT JOIN mirror.translations t ON t.post_id = p.id AND t.target_lang = $3
                        LEFT JOIN mirror.translation_failures f ON f.post_id = p.id AND f.target_lang = $3
                        LEFT JOIN mirror.publications x ON x.route_id = $1 AND x.post_id = p.id
                        WHERE p.chat_id = $2
                    ), waiting AS (
                        SELECT id, fetched_at FROM state WHERE state IS NULL AND NOT parked ORDER BY fetched_at, id LIMIT 1
                    )
                    SELECT count(*) FILTER (WHERE state IS NULL AND untranslated AND NOT parked)::int AS awaiting_translation,
                           count(*) FILTER (WHERE state IS NULL AND NOT untranslated)::int AS awaiting_publication,
                           count(*) FILTER (WHERE state = 'published')::int AS published,
                           count(*) FILTER (WHERE state = 'skipped')::int AS skipped,
                           (SELECT id FROM waiting) AS oldest_id,
                           (SELECT extract(epoch FROM now() - fetched_at)::float8 FROM waiting) AS oldest_age
                    FROM state
                    """, [id, chatID, lang]).first!
                let parked = try conn.query("""
                    SELECT p.id, p.message_id, f.updated_at, f.attempts, f.last_error
                    FROM mirror.translation_failures f
                    JOIN mirror.posts p ON p.id = f.post_id AND p.chat_id = $1
                    WHERE f.target_lang = $2 AND f.parked
                      AND NOT EXISTS (SELECT 1 FROM mirror.translations t WHERE t.post_id = p.id AND t.target_lang = $2)
                      AND NOT EXISTS (SELECT 1 FROM mirror.publications x WHERE x.route_id = $3 AND x.post_id = p.id)
                    ORDER BY p.message_id LIMIT $4
                    """, [chatID, lang, id, listLimit]).map { row in
                    StatusSnapshot.StuckPost(postID: try row.decode("id"), messageID: try row.decode("message_id"), since: try row.decode("updated_at"),
                                             attempts: try row.decode("attempts"), reason: try row.decode("last_error"))
                }
                let publishing = try conn.query("""
                    SELECT p.id, p.message_id, x.updated_at FROM mirror.publications x JOIN mirror.posts p ON p.id = x.post_id
                    WHERE x.route_id = $1 AND x.state = 'publishing' ORDER BY p.message_id LIMIT $2
                    """, [id, listLimit]).map { row in
                    StatusSnapshot.StuckPost(postID: try row.decode("id"), messageID: try row.decode("message_id"), since: try row.decode("updated_at"))
                }
                let setAside = try conn.query("""
                    SELECT p.id, p.message_id, x.updated_at, x.state || ': ' || COALESCE(x.note, '') AS reason
                    FROM mirror.publications x JOIN mirror.posts p ON p.id = x.post_id
                    WHERE x.route_id = $1 AND x.state IN ('uncertain', 'failed') ORDER BY p.message_id
                    """, [id]).map { row in
                    StatusSnapshot.StuckPost(postID: try row.decode("id"), messageID: try row.decode("message_id"), since: try row.decode("updated_at"),
                                             reason: try row.decode("reason"))
                }
                let gapRanges = try conn.query(
                    "SELECT from_id, to_id FROM mirror.source_gaps WHERE chat_id = $1 ORDER BY from_id LIMIT $2", [chatID, listLimit]
                ).map { row -> String in
                    let (from, to): (Int64, Int64) = (try row.decode("from_id"), try row.decode("to_id"))
                    return from == to ? String(from) : "\(from)-\(to)"
                }
                let gaps: Int = try conn.query(
                    "SELECT COALESCE(sum(to_id - from_id + 1), 0)::int AS n FROM mirror.source_gaps WHERE chat_id = $1", [chatID]).first!.decode("n")
                routes.append(StatusSnapshot.RouteStatus(
                    id: id, source: try row.decode("source"), destination: try row.decode("destination"), targetLanguage: lang,
                    enabled: try row.decode("enabled"), sourceChatID: chatID,
                    fetchedThroughMessageID: try row.decodeIfPresent("last_message_id"), lastFetchAt: try row.decodeIfPresent("last_fetch_at"),
                    awaitingTranslation: try counts.decode("awaiting_translation"), awaitingPublication: try counts.decode("awaiting_publication"),
                    published: try counts.decode("published"), skipped: try counts.decode("skipped"),
                    oldestWaitingSeconds: try counts.decodeIfPresent("oldest_age"), oldestWaitingPostID: try counts.decodeIfPresent("oldest_id"),
                    parked: parked, publishing: publishing, setAside: setAside,
                    restingUntil: try row.decodeIfPresent("resting_until"), restingReason: try row.decodeIfPresent("retry_reason"),
                    gaps: gaps, gapRanges: gapRanges))
            }
            let jobs = try conn.query("""
                SELECT DISTINCT ON (job) job, host, pid, started_at, finished_at, outcome, summary, error
                FROM mirror.job_runs ORDER BY job, started_at DESC
                """).map { row in
                StatusSnapshot.JobRun(job: try row.decode("job"), host: try row.decode("host"), pid: try row.decode("pid"),
                                      startedAt: try row.decode("started_at"), finishedAt: try row.decodeIfPresent("finished_at"),
                                      outcome: try row.decodeIfPresent("outcome"), summary: try row.decodeIfPresent("summary"),
                                      error: try row.decodeIfPresent("error"))
            }
            let pending: Int = try conn.query("SELECT count(DISTINCT hour)::int AS n FROM mirror.analytics_dirty_hours").first!.decode("n")
            let leases = try conn.query("SELECT name, holder, expires_at FROM mirror.leases WHERE expires_at > now() ORDER BY name").map { row in
                StatusSnapshot.Lease(name: try row.decode("name"), holder: try row.decode("holder"), expiresAt: try row.decode("expires_at"))
            }
            let batches = try conn.query("""
                SELECT b.id, b.target_lang, b.submitted_at, count(i.post_id)::int AS posts
                FROM mirror.translation_batches b LEFT JOIN mirror.translation_batch_items i ON i.batch_id = b.id
                WHERE b.collected_at IS NULL GROUP BY b.id ORDER BY b.submitted_at
                """).map { row in
                StatusSnapshot.MessageBatch(id: try row.decode("id"), targetLanguage: try row.decode("target_lang"), posts: try row.decode("posts"),
                                            submittedAt: try row.decode("submitted_at"))
            }
            return StatusSnapshot(generatedAt: now, routes: routes, jobs: jobs, analyticsPendingHours: pending, leases: leases, messageBatches: batches)
        }
    }
}
