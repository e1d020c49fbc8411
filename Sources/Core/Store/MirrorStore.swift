import Foundation

/// Every read and state change of the pipeline, as parameterised SQL against the `mirror` schema.
///
/// Each method that changes state writes its event in the same transaction, so the event log never
/// disagrees with the rows it describes.
public struct MirrorStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: - Routes

    /// Creates the route for this channel, destination and language, or points the existing one at `spec`'s
    /// source (the export path may change from one export to the next).
    public func upsertRoute(_ spec: RouteSpec, chatID: Int64, strictOrder: Bool = false) async throws -> Route {
        try await database.transaction { conn in
            let row = try conn.query("""
                INSERT INTO mirror.routes (source, source_chat_id, destination, target_lang, strict_order)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (source_chat_id, destination, target_lang) DO UPDATE SET source = EXCLUDED.source, strict_order = EXCLUDED.strict_order
                RETURNING id, (xmax = 0) AS created
                """, [spec.source.description, chatID, spec.destination.description, spec.targetLanguage.description, strictOrder]).first!
            let id: Int64 = try row.decode("id")
            if try row.decode("created", as: Bool.self) {
                try Self.recordEvent(conn, kind: "route_created", routeID: id, detail: ["source": spec.source.description, "destination": spec.destination.description])
            }
            return Route(id: id, spec: spec)
        }
    }

    /// Enabled routes with the chat each one reads.
    public func routes() async throws -> [(route: Route, chatID: Int64)] {
        let rows = try await database.withConnection { conn in
            try conn.query("SELECT id, source, source_chat_id, destination, target_lang FROM mirror.routes WHERE enabled ORDER BY id")
        }
        return try rows.map { row in
            let source: String = try row.decode("source")
            let destination: String = try row.decode("destination")
            let lang: String = try row.decode("target_lang")
            guard let language = LanguageCode(lang) else {
                throw PostgresError(code: .decoding, message: "route \(try row.decode("id", as: Int64.self)) has invalid target_lang \(lang)")
            }
            let spec = RouteSpec(source: try SourceSpec(source), destination: try DestinationSpec(destination), targetLanguage: language)
            return (Route(id: try row.decode("id"), spec: spec), try row.decode("source_chat_id"))
        }
    }

    // MARK: - Fetch

    /// The newest message id already imported from `chatID`.
    public func offset(chatID: Int64) async throws -> Int64? {
        try await database.withConnection { conn in
            try conn.query("SELECT last_message_id FROM mirror.source_offsets WHERE chat_id = $1", [chatID]).first?.decode("last_message_id")
        }
    }

    /// Stores posts and advances the chat's offset to `newOffset` in one transaction.
    ///
    /// - Returns: how many posts were new (re-imported ids are left as they are), and the stored offset,
    ///   which never moves backwards (an older export imported after a newer one leaves it as it was).
    public func importPosts(_ posts: [SourcePost], chatID: Int64, newOffset: Int64) async throws -> (inserted: Int, offset: Int64) {
        let payload = try JSONText(encoding: posts.map(PostRow.init))
        return try await database.transaction { conn in try Self.insertPosts(conn, payload, chatID: chatID, newOffset: newOffset) }
    }

    /// Stores what a Bot API `getUpdates` page delivered, for every chat, and the reader's next update offset,
    /// in one transaction: the offset is confirmed to Telegram only after its posts are safe here.
    public func importUpdates(_ batches: [SourceBatch], cursor: String, nextOffset: Int64) async throws -> (inserted: Int, edited: Int) {
        let payloads = try batches.map { (batch: $0, posts: try JSONText(encoding: $0.posts.map(PostRow.init)), edits: try JSONText(encoding: $0.edits.map(PostRow.init))) }
        return try await database.transaction { conn in
            var inserted = 0
            var edited = 0
            for entry in payloads {
                if let last = entry.batch.lastMessageID {
                    inserted += try Self.insertPosts(conn, entry.posts, chatID: entry.batch.chatID, newOffset: last).inserted
                }
                edited += try Self.applyEdits(conn, entry.edits)
            }
            try conn.query("""
                INSERT INTO mirror.source_cursors (source, value) VALUES ($1, $2)
                ON CONFLICT (source) DO UPDATE SET value = GREATEST(mirror.source_cursors.value, EXCLUDED.value), last_success_at = now()
                """, [cursor, nextOffset])
            return (inserted, edited)
        }
    }

    /// The stored position of a reader that is not a message id, and when it last fetched successfully.
    public func cursor(_ source: String) async throws -> (value: Int64, lastSuccess: Date)? {
        try await database.withConnection { conn in
            guard let row = try conn.query("""
                SELECT value, extract(epoch FROM last_success_at)::float8 AS at FROM mirror.source_cursors WHERE source = $1
                """, [source]).first else { return nil }
            return (try row.decode("value"), Date(timeIntervalSince1970: try row.decode("at", as: Double.self)))
        }
    }

    /// Applies edits of already imported posts: only a changed text or formatting counts (a reaction or a view
    /// count changes nothing). An edited post gets a new revision and loses its translations, so the next
    /// runs translate it again and edit what was published.
    ///
    /// - Returns: how many posts changed.
    public func importEdits(_ posts: [SourcePost]) async throws -> Int {
        guard !posts.isEmpty else { return 0 }
        let payload = try JSONText(encoding: posts.map(PostRow.init))
        return try await database.transaction { conn in try Self.applyEdits(conn, payload) }
    }

    /// Records ranges of message ids a lossy reader could not deliver, for the operator.
    public func recordGaps(chatID: Int64, ranges: [ClosedRange<Int64>]) async throws {
        guard !ranges.isEmpty else { return }
        try await database.transaction { conn in
            for range in ranges {
                let added = try conn.query("""
                    INSERT INTO mirror.source_gaps (chat_id, from_id, to_id) VALUES ($1, $2, $3)
                    ON CONFLICT (chat_id, from_id) DO UPDATE SET to_id = GREATEST(mirror.source_gaps.to_id, EXCLUDED.to_id)
                    """, [chatID, range.lowerBound, range.upperBound]).affectedRows
                if added > 0 {
                    try Self.recordEvent(conn, kind: "gap", detail: ["chat_id": String(chatID), "from": String(range.lowerBound), "to": String(range.upperBound)])
                }
            }
        }
    }

    static func insertPosts(_ conn: PostgresConnection, _ payload: JSONText, chatID: Int64, newOffset: Int64) throws -> (inserted: Int, offset: Int64) {
        let inserted = try conn.query("""
            WITH incoming AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
                    chat_id bigint, message_id bigint, posted_at double precision, edited_at double precision,
                    text text, entities jsonb, media jsonb, album_id text, needs_translation boolean, link_preview jsonb)
            ), inserted AS (
                INSERT INTO mirror.posts (chat_id, message_id, posted_at, edited_at, text, entities, media, album_id, needs_translation, link_preview)
                SELECT chat_id, message_id, to_timestamp(posted_at), to_timestamp(edited_at), text, entities, media, album_id, needs_translation, link_preview
                FROM incoming ORDER BY message_id
                ON CONFLICT (chat_id, message_id) DO NOTHING
                RETURNING id
            )
            INSERT INTO mirror.events (kind, post_id) SELECT 'fetched', id FROM inserted
            """, [payload]).affectedRows
        let offset: Int64 = try conn.query("""
            INSERT INTO mirror.source_offsets (chat_id, last_message_id) VALUES ($1, $2)
            ON CONFLICT (chat_id) DO UPDATE SET last_message_id = GREATEST(mirror.source_offsets.last_message_id, EXCLUDED.last_message_id), updated_at = now()
            RETURNING last_message_id
            """, [chatID, newOffset]).first!.decode("last_message_id")
        return (inserted, offset)
    }

    static func applyEdits(_ conn: PostgresConnection, _ payload: JSONText) throws -> Int {
        let edited = try conn.query("""
            WITH incoming AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
                    chat_id bigint, message_id bigint, edited_at double precision, text text, entities jsonb, media jsonb,
                    needs_translation boolean, link_preview jsonb)
            )
            UPDATE mirror.posts p SET text = x.text, entities = x.entities, media = x.media, needs_translation = x.needs_translation,
                link_preview = COALESCE(x.link_preview, p.link_preview), edited_at = COALESCE(to_timestamp(x.edited_at), now()),
                revision = p.revision + 1
            FROM incoming x
            WHERE p.chat_id = x.chat_id AND p.message_id = x.message_id
              AND (p.text IS DISTINCT FROM x.text OR p.entities IS DISTINCT FROM x.entities)
              -- An older copy (an export made before a later edit) never takes a post back to an earlier text.
              AND (x.edited_at IS NULL OR p.edited_at IS NULL OR to_timestamp(x.edited_at) > p.edited_at)
            RETURNING p.id, p.revision
            """, [payload])
        for row in edited {
            let postID: Int64 = try row.decode("id")
            try conn.query("DELETE FROM mirror.translations WHERE post_id = $1", [postID])
            try conn.query("DELETE FROM mirror.translation_failures WHERE post_id = $1", [postID])
            try recordEvent(conn, kind: "edited", postID: postID, detail: ["revision": String(try row.decode("revision", as: Int.self))])
        }
        return edited.count
    }

    // MARK: - Translate

    /// Posts of `chatID` after `afterMessageID` that need a translation into `language` and have none yet,
    /// oldest first, leaving out posts parked after `maxAttempts` failures.
    public func untranslatedPosts(
        chatID: Int64, language: LanguageCode, afterMessageID: Int64, limit: Int
    ) async throws -> [(postID: Int64, messageID: Int64, content: FormattedText)] {
        let rows = try await database.withConnection { conn in
            try conn.query("""
                SELECT p.id, p.message_id, p.text, p.entities FROM mirror.posts p
                WHERE \(Self.untranslatedCondition)
                ORDER BY p.message_id
                LIMIT $4
                """, [chatID, language.description, afterMessageID, limit])
        }
        return try rows.map { row in
            (try row.decode("id"), try row.decode("message_id"), FormattedText(text: try row.decode("text"), entities: try row.decodeJSON("entities")))
        }
    }

    /// Claims up to `limit` untranslated posts after `afterMessageID` for `holder`, oldest first, skipping posts
    /// another runner holds or is claiming right now (`FOR UPDATE SKIP LOCKED`): N runners split the work and
    /// no post is translated twice. Claims expire after `ttl` (the runner died) and are released by
    /// ``releaseTranslationClaims(holder:)``.
    public func claimUntranslated(
        chatID: Int64, language: LanguageCode, afterMessageID: Int64, limit: Int, holder: String, ttl: Duration
    ) async throws -> [(postID: Int64, messageID: Int64, content: FormattedText)] {
        let rows = try await database.transaction { conn in
            try conn.query("""
                WITH picked AS (
                    SELECT p.id FROM mirror.posts p
                    WHERE \(Self.untranslatedCondition)
                      AND NOT EXISTS (SELECT 1 FROM mirror.translation_claims c
                                      WHERE c.post_id = p.id AND c.target_lang = $2 AND c.expires_at > now() AND c.holder <> $5)
                    ORDER BY p.message_id
                    LIMIT $4
                    FOR UPDATE OF p SKIP LOCKED
                ), claimed AS (
                    INSERT INTO mirror.translation_claims (post_id, target_lang, holder, expires_at)
                    SELECT id, $2, $5, now() + make_interval(secs => $6) FROM picked
                    ON CONFLICT (post_id, target_lang) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                    WHERE mirror.translation_claims.expires_at <= now() OR mirror.translation_claims.holder = EXCLUDED.holder
                    RETURNING post_id
                )
                SELECT p.id, p.message_id, p.text, p.entities FROM mirror.posts p JOIN claimed c ON c.post_id = p.id ORDER BY p.message_id
                """, [chatID, language.description, afterMessageID, limit, holder, Double(ttl.components.seconds)])
        }
        return try rows.map { row in
            (try row.decode("id"), try row.decode("message_id"), FormattedText(text: try row.decode("text"), entities: try row.decodeJSON("entities")))
        }
    }

    /// Keeps `holder`'s claimed batch its own while it works through it.
    public func renewTranslationClaims(holder: String, ttl: Duration) async throws {
        try await database.transaction { conn in
            try conn.query("UPDATE mirror.translation_claims SET expires_at = now() + make_interval(secs => $2) WHERE holder = $1",
                           [holder, Double(ttl.components.seconds)])
        }
    }

    /// Gives back every translation claim of `holder` (its batch is done, or it stops).
    public func releaseTranslationClaims(holder: String) async throws {
        try await database.transaction { conn in
            try conn.query("DELETE FROM mirror.translation_claims WHERE holder = $1", [holder])
        }
    }

    /// How many posts ``untranslatedPosts(chatID:language:afterMessageID:limit:)`` would return in all.
    public func countUntranslated(chatID: Int64, language: LanguageCode) async throws -> Int {
        try await database.withConnection { conn in
            try conn.query("""
                SELECT count(*)::int AS n FROM mirror.posts p WHERE \(Self.untranslatedCondition)
                """, [chatID, language.description, Int64.min]).first!.decode("n")
        }
    }

    /// Posts of chat `$1` after message `$3` needing a translation into `$2` that have none, leaving out posts
    /// parked, posts waiting in a Message Batch, and posts an operator skipped on every route of that language.
    private static let untranslatedCondition = """
        p.chat_id = $1 AND p.message_id > $3 AND p.needs_translation
        AND NOT EXISTS (SELECT 1 FROM mirror.translations t WHERE t.post_id = p.id AND t.target_lang = $2)
        AND NOT EXISTS (SELECT 1 FROM mirror.translation_failures f
                        WHERE f.post_id = p.id AND f.target_lang = $2 AND f.parked)
        AND NOT EXISTS (SELECT 1 FROM mirror.translation_batch_items bi JOIN mirror.translation_batches b ON b.id = bi.batch_id
                        WHERE bi.post_id = p.id AND bi.target_lang = $2 AND b.collected_at IS NULL)
        AND EXISTS (SELECT 1 FROM mirror.routes r WHERE r.enabled AND r.source_chat_id = p.chat_id AND r.target_lang = $2
                    AND NOT EXISTS (SELECT 1 FROM mirror.publications s
                                    WHERE s.route_id = r.id AND s.post_id = p.id AND s.state = 'skipped'))
        """

    /// Stores a translation and its event; clears any recorded failure.
    ///
    /// - Returns: `false` when another run stored a translation of this post first, or the post changed since
    ///   `source`; this one is then dropped and no event is written, so counts never include a post twice.
    @discardableResult
    public func saveTranslation(postID: Int64, language: LanguageCode, output: TranslationOutput, translator: String, source: FormattedText? = nil) async throws -> Bool {
        let entities = try JSONText(encoding: output.content.entities)
        let sourceEntities = try source.map { try JSONText(encoding: $0.entities) }
        return try await database.transaction { conn in
            let usage = output.usage
            // With `source`, only while the post still reads so: a translation of text edited meanwhile is dropped.
            let inserted = try conn.query("""
                INSERT INTO mirror.translations (post_id, target_lang, text, entities, translator, input_tokens, output_tokens,
                                                 cache_write_tokens, cache_read_tokens, requests, cost_usd)
                SELECT $1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11::numeric
                FROM mirror.posts p
                WHERE p.id = $1 AND ($12::text IS NULL OR (p.text = $12::text AND p.entities = $13::jsonb))
                ON CONFLICT (post_id, target_lang) DO NOTHING
                """, [postID, language.description, output.content.text, entities, translator, usage.inputTokens, usage.outputTokens,
                      usage.cacheWriteTokens, usage.cacheReadTokens, usage.requests, String(format: "%.6f", usage.costUSD),
                      source?.text, sourceEntities]).affectedRows
            guard inserted == 1 else { return false }
            try conn.query("DELETE FROM mirror.translation_failures WHERE post_id = $1 AND target_lang = $2", [postID, language.description])
            try Self.recordEvent(conn, kind: "translated", postID: postID, detail: usage.eventDetail.merging([
                "target_lang": language.description, "translator": translator, "glossary_hits": String(output.glossaryHits),
            ]) { $1 })
            return true
        }
    }

    /// Records a failed attempt with its reason, parking the post after `parkAfter` attempts or at once.
    ///
    /// - Parameter parkNow: the failure is the post's own and retrying cannot help (an answer still broken
    ///   after a corrected retry, a request the API refuses).
    /// - Returns: `true` when this failure parked the post.
    @discardableResult
    public func recordTranslationFailure(
        postID: Int64, language: LanguageCode, reason: String, usage: TokenUsage = TokenUsage(),
        parkNow: Bool = false, parkAfter: Int = .max
    ) async throws -> Bool {
        // An API error may quote the request; nothing stored may carry a secret.
        let reason = SecretRedactor.shared.redact(reason)
        return try await database.transaction { conn in
            let wasParked = try conn.query("""
                SELECT parked FROM mirror.translation_failures WHERE post_id = $1 AND target_lang = $2 FOR UPDATE
                """, [postID, language.description]).first?.decode("parked", as: Bool.self) ?? false
            let row = try conn.query("""
                INSERT INTO mirror.translation_failures (post_id, target_lang, attempts, last_error, parked) VALUES ($1, $2, 1, $3, $4 OR 1 >= $5)
                ON CONFLICT (post_id, target_lang) DO UPDATE SET attempts = mirror.translation_failures.attempts + 1,
                    last_error = EXCLUDED.last_error, updated_at = now(),
                    parked = mirror.translation_failures.parked OR $4 OR mirror.translation_failures.attempts + 1 >= $5
                RETURNING attempts, parked
                """, [postID, language.description, reason, parkNow, parkAfter == .max ? Int(Int32.max) : parkAfter]).first!
            let parked: Bool = try row.decode("parked")
            let attempts: Int = try row.decode("attempts")
            try Self.recordEvent(conn, kind: "translation_failed", postID: postID, detail: usage.eventDetail.merging([
                "target_lang": language.description, "error": reason, "attempts": String(attempts),
            ]) { $1 })
            if parked && !wasParked {
                try Self.recordEvent(conn, kind: "parked", postID: postID, detail: ["target_lang": language.description, "error": reason])
            }
            return parked && !wasParked
        }
    }

    // MARK: - Publish

    /// An unpublished post with what should go out for it.
    public struct PendingPublication: Sendable {
        public var postID: Int64
        public var post: SourcePost
        /// The translation, or the source text when none is needed; `nil` while the translation is missing.
        public var content: FormattedText?
        /// Translation failed too often; the post waits for an operator and does not block the route.
        public var parked: Bool
        /// Marked `publishing` by a run that is still working or that died; the route waits for it.
        public var inFlight: Bool
    }

    /// Unpublished posts of a route in source order, after `afterMessageID`, up to `limit` posts.
    public func unpublishedPosts(route: Route, chatID: Int64, afterMessageID: Int64, limit: Int) async throws -> [PendingPublication] {
        let rows = try await database.withConnection { conn in
            try conn.query("""
                SELECT p.id, p.chat_id, p.message_id, extract(epoch FROM p.posted_at)::float8 AS posted_at,
                       extract(epoch FROM p.edited_at)::float8 AS edited_at, p.text, p.entities, p.media, p.album_id,
                       p.link_preview, p.needs_translation, t.text AS t_text, t.entities AS t_entities,
                       COALESCE(f.parked, false) AS parked, x.state IS NOT NULL AS in_flight
                FROM mirror.posts p
                LEFT JOIN mirror.translations t ON t.post_id = p.id AND t.target_lang = $3
                LEFT JOIN mirror.translation_failures f ON f.post_id = p.id AND f.target_lang = $3
                LEFT JOIN mirror.publications x ON x.route_id = $1 AND x.post_id = p.id
                WHERE p.chat_id = $2 AND p.message_id > $5 AND (x.state IS NULL OR x.state = 'publishing')
                ORDER BY p.message_id
                LIMIT $4
                """, [route.id, chatID, route.spec.targetLanguage.description, limit, afterMessageID])
        }
        return try rows.map { row in
            let post = SourcePost(
                chatID: try row.decode("chat_id"),
                messageID: try row.decode("message_id"),
                date: Date(timeIntervalSince1970: try row.decode("posted_at", as: Double.self)),
                editDate: try row.decodeIfPresent("edited_at", as: Double.self).map { Date(timeIntervalSince1970: $0) },
                content: FormattedText(text: try row.decode("text"), entities: try row.decodeJSON("entities")),
                media: try row.decodeJSON("media"),
                albumID: try row.decodeIfPresent("album_id"),
                linkPreview: try row.decodeJSONIfPresent("link_preview")
            )
            let content: FormattedText?
            if try row.decode("needs_translation", as: Bool.self) {
                if let text: String = try row.decodeIfPresent("t_text") {
                    content = FormattedText(text: text, entities: try row.decodeJSON("t_entities"))
                } else {
                    content = nil
                }
            } else {
                content = post.content
            }
            return PendingPublication(postID: try row.decode("id"), post: post, content: content, parked: try content == nil && row.decode("parked", as: Bool.self),
                inFlight: try row.decode("in_flight"))
        }
    }

    /// Posts of a route not published (nor skipped) yet: the publish stage's backlog.
    public func countUnpublished(routeID: Int64, chatID: Int64) async throws -> Int {
        try await database.withConnection { conn in
            try conn.query("""
                SELECT count(*)::int AS n FROM mirror.posts p
                LEFT JOIN mirror.publications x ON x.route_id = $1 AND x.post_id = p.id
                WHERE p.chat_id = $2 AND (x.state IS NULL OR x.state = 'publishing')
                """, [routeID, chatID]).first!.decode("n")
        }
    }

    /// Publications of a route left in `publishing` by an interrupted run.
    /// Only marks older than `olderThan` count: a younger one may belong to a run that is still working.
    public func interruptedPublications(routeID: Int64, olderThan: Duration) async throws -> [Int64] {
        try await database.withConnection { conn in
            try conn.query("""
                SELECT post_id FROM mirror.publications
                WHERE route_id = $1 AND state = 'publishing' AND updated_at <= now() - make_interval(secs => $2)
                ORDER BY post_id
                """, [routeID, Double(olderThan.components.seconds)])
                .map { try $0.decode("post_id") }
        }
    }

    /// Commits the intent to publish before the destination is touched.
    ///
    /// - Returns: `false`, with nothing changed, when another run already marked one of the posts: that run
    ///   owns the unit, and this one must not publish it too.
    public func markPublishing(routeID: Int64, postIDs: [Int64], claim: String) async throws -> Bool {
        struct AlreadyClaimed: Error {}
        do {
            try await database.transaction { conn in
                var claimed = 0
                for postID in postIDs {
                    claimed += try conn.query("""
                        INSERT INTO mirror.publications (route_id, post_id, state, claimed_by) VALUES ($1, $2, 'publishing', $3)
                        ON CONFLICT (route_id, post_id) DO NOTHING
                        """, [routeID, postID, claim]).affectedRows
                }
                if claimed != postIDs.count { throw AlreadyClaimed() }
            }
            return true
        } catch is AlreadyClaimed {
            return false
        }
    }

    /// Records what a unit produced and advances the route's published offset, with one event per post.
    public func markPublished(routeID: Int64, postIDs: [Int64], destinationIDs: [[String]], lastMessageID: Int64, claim: String) async throws {
        try await database.transaction { conn in
            for (index, postID) in postIDs.enumerated() {
                let ids = index < destinationIDs.count ? destinationIDs[index] : []
                let changed = try conn.query("""
                    UPDATE mirror.publications SET state = 'published', destination_ids = $3::jsonb, sending_step = NULL, claimed_by = NULL, updated_at = now()
                    WHERE route_id = $1 AND post_id = $2 AND state = 'publishing' AND claimed_by = $4
                    """, [routeID, postID, try JSONText(encoding: ids), claim]).affectedRows
                guard changed == 1 else { throw ClaimLost(routeID: routeID, postID: postID) }
                try Self.recordEvent(conn, kind: "published", routeID: routeID, postID: postID, detail: ["destination_ids": ids.joined(separator: ",")])
            }
            try conn.query("""
                UPDATE mirror.routes SET last_published_message_id = GREATEST(COALESCE(last_published_message_id, 0), $2) WHERE id = $1
                """, [routeID, lastMessageID])
        }
    }

    /// Forgets a `publishing` mark whose unit never reached the destination, so it is published again.
    public func clearPublishing(routeID: Int64, postIDs: [Int64], claim: String) async throws {
        try await database.transaction { conn in
            for postID in postIDs {
                try conn.query("DELETE FROM mirror.publications WHERE route_id = $1 AND post_id = $2 AND state = 'publishing' AND claimed_by = $3",
                               [routeID, postID, claim])
            }
        }
    }

    /// Keeps a claim fresh while its holder works (a long upload, a flood wait), so no other run takes it as abandoned.
    public func refreshClaim(routeID: Int64, postIDs: [Int64], claim: String) async throws {
        try await database.transaction { conn in
            try conn.query("""
                UPDATE mirror.publications SET updated_at = now()
                WHERE route_id = $1 AND post_id = ANY($2::bigint[]) AND state = 'publishing' AND claimed_by = $3
                """, [routeID, MetricsQuery.bucketArray(postIDs), claim])
        }
    }

    /// Takes over an abandoned claim (not refreshed for `olderThan`), atomically, so of two runs only one settles it.
    ///
    /// - Returns: whether this run holds the unit's claim now.
    public func takeOverClaim(routeID: Int64, postIDs: [Int64], olderThan: Duration, claim: String) async throws -> Bool {
        try await database.transaction { conn in
            try conn.query("""
                UPDATE mirror.publications SET claimed_by = $3, updated_at = now()
                WHERE route_id = $1 AND post_id = ANY($2::bigint[]) AND state = 'publishing'
                  AND updated_at <= now() - make_interval(secs => $4)
                """, [routeID, MetricsQuery.bucketArray(postIDs), claim, Double(olderThan.components.seconds)]).affectedRows > 0
        }
    }

    /// Post ids of the unit that starts with `postID` (the album's other posts, if any).
    public func unitPostIDs(routeID: Int64, postID: Int64) async throws -> (key: String, postIDs: [Int64], lastMessageID: Int64) {
        try await database.withConnection { conn in
            let rows = try conn.query("""
                SELECT p.id, p.chat_id, p.message_id FROM mirror.posts p
                JOIN mirror.posts first ON first.id = $1
                WHERE p.id = first.id OR (first.album_id IS NOT NULL AND p.chat_id = first.chat_id AND p.album_id = first.album_id)
                ORDER BY p.message_id
                """, [postID])
            let ids: [Int64] = try rows.map { try $0.decode("id") }
            guard let first = rows.first, let last = Array(rows).last else {
                throw PostgresError(code: .unexpectedResult, message: "post \(postID) does not exist")
            }
            let key = "\(routeID)/\(try first.decode("chat_id", as: Int64.self))/\(try first.decode("message_id", as: Int64.self))"
            return (key, ids, try last.decode("message_id"))
        }
    }

    /// A run's claim on a unit was taken over by another run (it looked abandoned); this run must stop
    /// touching the unit.
    public struct ClaimLost: Error, CustomStringConvertible, Sendable {
        public var routeID: Int64
        public var postID: Int64
        public var description: String {
            "another run took over the publication of post \(postID) on route \(routeID); this run leaves it to that one"
        }
    }

    /// For a route in strict order: the first message id it must not publish past (a parked post, or one set
    /// aside), or `nil` when nothing holds it.
    public func strictOrderBarrier(routeID: Int64, chatID: Int64, language: LanguageCode) async throws -> Int64? {
        try await database.withConnection { conn in
            try conn.query("""
                SELECT least(
                    (SELECT min(p.message_id) FROM mirror.publications x JOIN mirror.posts p ON p.id = x.post_id
                     WHERE x.route_id = $1 AND x.state IN ('uncertain', 'failed')),
                    (SELECT min(p.message_id) FROM mirror.translation_failures f JOIN mirror.posts p ON p.id = f.post_id
                     WHERE p.chat_id = $2 AND f.target_lang = $3 AND f.parked
                       AND NOT EXISTS (SELECT 1 FROM mirror.publications x WHERE x.route_id = $1 AND x.post_id = p.id))
                ) AS barrier
                FROM mirror.routes r WHERE r.id = $1 AND r.strict_order
                """, [routeID, chatID, language.description]).first?.decodeIfPresent("barrier")
        }
    }

    // MARK: - Events

    static func recordEvent(_ conn: PostgresConnection, kind: String, routeID: Int64? = nil, postID: Int64? = nil, detail: [String: String] = [:]) throws {
        try conn.query(
            "INSERT INTO mirror.events (kind, route_id, post_id, detail) VALUES ($1, $2, $3, $4::jsonb)",
            [kind, routeID, postID, try JSONText(encoding: detail.mapValues(SecretRedactor.shared.redact))]
        )
    }
}

/// The JSON shape `importPosts` hands to `jsonb_to_recordset`.
private struct PostRow: Encodable {
    var chat_id: Int64
    var message_id: Int64
    var posted_at: Double
    var edited_at: Double?
    var text: String
    var entities: [MessageEntity]
    var media: [MediaDescriptor]
    var album_id: String?
    var needs_translation: Bool
    var link_preview: LinkPreview?

    init(_ post: SourcePost) {
        chat_id = post.chatID
        message_id = post.messageID
        posted_at = post.date.timeIntervalSince1970
        edited_at = post.editDate?.timeIntervalSince1970
        // PostgreSQL text cannot hold U+0000; U+FFFD has the same UTF-16 length, so offsets stay right.
        text = post.content.text.replacingNUL()
        entities = post.content.entities.map { entity in
            var e = entity
            e.url = e.url?.replacingNUL()
            e.language = e.language?.replacingNUL()
            e.customEmojiID = e.customEmojiID?.replacingNUL()
            return e
        }
        media = post.media.map { item in
            var m = item
            m.kind = m.kind.replacingNUL()
            m.path = m.path?.replacingNUL()
            m.fileName = m.fileName?.replacingNUL()
            m.mimeType = m.mimeType?.replacingNUL()
            m.summary = m.summary?.replacingNUL()
            return m
        }
        album_id = post.albumID
        needs_translation = post.needsTranslation
        link_preview = post.linkPreview
    }
}
