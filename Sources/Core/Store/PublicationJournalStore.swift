import Foundation

/// The publication journal of one route, kept in `mirror.publications.sending_step` and `mirror.sent_messages`.
public struct StoredPublicationJournal: PublicationJournal {
    let database: Database
    let routeID: Int64
    /// The run's claim token: every write is guarded by it.
    let claim: String

    public func sentMessages(postIDs: [Int64]) async throws -> [SentMessage] {
        let rows = try await database.withConnection { [routeID] conn in
            try conn.query("""
                SELECT post_id, step, seq, message_id, role, content_hash, plan_hash FROM mirror.sent_messages
                WHERE route_id = $1 AND post_id = ANY($2::bigint[]) ORDER BY step, seq
                """, [routeID, MetricsQuery.bucketArray(postIDs)])
        }
        return try rows.map { row in
            SentMessage(
                postID: try row.decode("post_id"), step: try row.decode("step"), seq: try row.decode("seq"),
                messageID: try row.decode("message_id"), role: try row.decode("role"), contentHash: try row.decode("content_hash"),
                planHash: try row.decode("plan_hash"))
        }
    }

    public func beginSend(postIDs: [Int64], step: Int) async throws {
        try await setStep(postIDs: postIDs, step: step)
    }

    public func recordSend(postIDs: [Int64], step: Int, chat: String, messages: [SentMessage]) async throws {
        try await database.transaction { [routeID, claim] conn in
            for message in messages {
                try conn.query("""
                    INSERT INTO mirror.sent_messages (route_id, post_id, step, seq, chat, message_id, role, content_hash, plan_hash)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                    ON CONFLICT (route_id, post_id, step, seq) DO UPDATE
                        SET message_id = EXCLUDED.message_id, content_hash = EXCLUDED.content_hash, sent_at = now()
                    """, [routeID, message.postID, message.step, message.seq, chat, message.messageID, message.role, message.contentHash, message.planHash])
            }
            // The messages exist whatever happened to the claim, so they are recorded in any case.
            try conn.query("""
                UPDATE mirror.publications SET sending_step = NULL, updated_at = now()
                WHERE route_id = $1 AND post_id = ANY($2::bigint[]) AND (claimed_by = $3 OR editing_by = $3)
                """, [routeID, MetricsQuery.bucketArray(postIDs), claim])
        }
    }

    public func abandonSend(postIDs: [Int64], step: Int) async throws {
        try await setStep(postIDs: postIDs, step: nil)
    }

    public func interruptedStep(postIDs: [Int64]) async throws -> Int? {
        try await database.withConnection { [routeID] conn in
            try conn.query("""
                SELECT max(sending_step) AS step FROM mirror.publications WHERE route_id = $1 AND post_id = ANY($2::bigint[])
                """, [routeID, MetricsQuery.bucketArray(postIDs)]).first?.decodeIfPresent("step")
        }
    }

    public func forgetSent(postID: Int64, step: Int, seq: Int) async throws {
        try await database.transaction { [routeID] conn in
            try conn.query("DELETE FROM mirror.sent_messages WHERE route_id = $1 AND post_id = $2 AND step = $3 AND seq = $4", [routeID, postID, step, seq])
        }
    }

    public func recentSends(toChat chat: String) async throws -> (messages: Int, oldestLeavesIn: Double?) {
        // Telegram's limit counts messages, so an album counts each of its items.
        let row = try await database.withConnection { conn in
            try conn.query("""
                SELECT count(*)::int AS n, extract(epoch FROM min(sent_at) + interval '60 seconds' - now())::float8 AS leaves_in
                FROM mirror.sent_messages WHERE chat = $1 AND sent_at > now() - interval '60 seconds'
                """, [chat]).first!
        }
        return (try row.decode("n"), try row.decodeIfPresent("leaves_in", as: Double.self))
    }

    private func setStep(postIDs: [Int64], step: Int?) async throws {
        let changed = try await database.transaction { [routeID, claim] conn in
            try conn.query("""
                UPDATE mirror.publications SET sending_step = $3, updated_at = now()
                WHERE route_id = $1 AND post_id = ANY($2::bigint[])
                  AND ((state = 'publishing' AND claimed_by = $4) OR (state = 'published' AND editing_by = $4))
                """, [routeID, MetricsQuery.bucketArray(postIDs), step, claim]).affectedRows
        }
        // Never call the destination without holding the unit: another run may be sending it.
        if changed == 0, step != nil, let postID = postIDs.first { throw MirrorStore.ClaimLost(routeID: routeID, postID: postID) }
    }
}

extension MirrorStore {
    /// A published post whose source was edited after it went out, with what it should show now.
    public struct PendingEdit: Sendable {
        public var item: PublicationUnit.Item
        public var revision: Int
    }

    /// Published posts of a route showing an older revision than their source, whose new content is ready
    /// (translated, or needing no translation), oldest first.
    public func pendingEdits(route: Route, chatID: Int64, limit: Int = 200) async throws -> [PendingEdit] {
        let rows = try await database.withConnection { conn in
            try conn.query("""
                SELECT p.id, p.message_id, extract(epoch FROM p.posted_at)::float8 AS posted_at, extract(epoch FROM p.edited_at)::float8 AS edited_at,
                       p.text, p.entities, p.media, p.album_id, p.link_preview, p.needs_translation, p.revision, t.text AS t_text, t.entities AS t_entities
                FROM mirror.posts p
                JOIN mirror.publications x ON x.route_id = $1 AND x.post_id = p.id
                LEFT JOIN mirror.translations t ON t.post_id = p.id AND t.target_lang = $3
                WHERE p.chat_id = $2 AND p.revision > 0 AND x.state = 'published' AND x.revision < p.revision
                  AND (NOT p.needs_translation OR t.post_id IS NOT NULL)
                ORDER BY p.message_id LIMIT $4
                """, [route.id, chatID, route.spec.targetLanguage.description, limit])
        }
        return try rows.map { row in
            let source = SourcePost(
                chatID: chatID, messageID: try row.decode("message_id"), date: Date(timeIntervalSince1970: try row.decode("posted_at", as: Double.self)),
                editDate: try row.decodeIfPresent("edited_at", as: Double.self).map { Date(timeIntervalSince1970: $0) },
                content: FormattedText(text: try row.decode("text"), entities: try row.decodeJSON("entities")), media: try row.decodeJSON("media"),
                albumID: try row.decodeIfPresent("album_id"), linkPreview: try row.decodeJSONIfPresent("link_preview"))
            let content: FormattedText = try row.decode("needs_translation", as: Bool.self)
                ? FormattedText(text: try row.decode("t_text"), entities: try row.decodeJSON("t_entities")) : source.content
            return PendingEdit(item: .init(postID: try row.decode("id"), source: source, content: content), revision: try row.decode("revision"))
        }
    }

    /// Claims the edit of a published post for this run, so two runs never edit one post at once.
    ///
    /// - Returns: `false` when the post shows `revision` already or another run is editing it.
    public func claimEdit(routeID: Int64, postID: Int64, revision: Int, claim: String, staleAfter: Duration) async throws -> Bool {
        try await database.transaction { conn in
            try conn.query("""
                UPDATE mirror.publications SET editing_by = $3, editing_at = now()
                WHERE route_id = $1 AND post_id = $2 AND state = 'published' AND revision < $4
                  AND (editing_by IS NULL OR editing_at <= now() - make_interval(secs => $5))
                """, [routeID, postID, claim, revision, Double(staleAfter.components.seconds)]).affectedRows == 1
        }
    }

    /// Gives an edit claim back without recording anything (the edit failed; a later run tries again).
    public func releaseEdit(routeID: Int64, postID: Int64, claim: String) async throws {
        try await database.transaction { conn in
            try conn.query("UPDATE mirror.publications SET editing_by = NULL WHERE route_id = $1 AND post_id = $2 AND editing_by = $3", [routeID, postID, claim])
        }
    }

    /// Records that the destination shows `revision` of the post now, with an event; only the edit's claimant can.
    public func markEdited(routeID: Int64, postID: Int64, revision: Int, destinationIDs: [String], claim: String) async throws {
        try await database.transaction { conn in
            let changed = try conn.query("""
                UPDATE mirror.publications SET revision = $3, destination_ids = $4::jsonb, editing_by = NULL, updated_at = now()
                WHERE route_id = $1 AND post_id = $2 AND editing_by = $5 AND revision < $3
                """, [routeID, postID, revision, try JSONText(encoding: destinationIDs), claim]).affectedRows
            guard changed == 1 else { throw ClaimLost(routeID: routeID, postID: postID) }
            try Self.recordEvent(conn, kind: "edit_published", routeID: routeID, postID: postID, detail: ["revision": String(revision)])
        }
    }

    /// The journal of `routeID`'s publications, written under `claim` (the run's token).
    public func journal(routeID: Int64, claim: String) -> StoredPublicationJournal {
        StoredPublicationJournal(database: database, routeID: routeID, claim: claim)
    }

    /// Parks a unit whose last call was interrupted without an answer: it may or may not have arrived.
    public func markUncertain(routeID: Int64, postIDs: [Int64], reason: String, claim: String) async throws {
        try await setAside(routeID: routeID, postIDs: postIDs, state: "uncertain", event: "uncertain", reason: reason, claim: claim)
    }

    /// Sets aside a unit the destination refused for good, with the reason.
    public func markPublishFailed(routeID: Int64, postIDs: [Int64], reason: String, claim: String) async throws {
        try await setAside(routeID: routeID, postIDs: postIDs, state: "failed", event: "publish_failed", reason: reason, claim: claim)
    }

    private func setAside(routeID: Int64, postIDs: [Int64], state: String, event: String, reason: String, claim: String) async throws {
        try await database.transaction { conn in
            for postID in postIDs {
                let changed = try conn.query("""
                    UPDATE mirror.publications SET state = $3, note = $4, sending_step = NULL, claimed_by = NULL, updated_at = now()
                    WHERE route_id = $1 AND post_id = $2 AND state = 'publishing' AND claimed_by = $5
                    """, [routeID, postID, state, SecretRedactor.shared.redact(reason), claim]).affectedRows
                if changed > 0 {
                    try Self.recordEvent(conn, kind: event, routeID: routeID, postID: postID, detail: ["reason": reason])
                }
            }
        }
    }

    /// When the route may publish again after flood control, if it is resting.
    public func routeRetryAt(routeID: Int64) async throws -> Date? {
        try await database.withConnection { conn in
            try conn.query("""
                SELECT extract(epoch FROM retry_at)::float8 AS t FROM mirror.routes WHERE id = $1 AND retry_at > now()
                """, [routeID]).first?.decodeIfPresent("t", as: Double.self).map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// Rests the route until `until` (a flood wait too long for this run), with an event.
    public func setRouteRetryAt(routeID: Int64, until: Date, reason: String) async throws {
        try await database.transaction { conn in
            try conn.query("UPDATE mirror.routes SET retry_at = $2::timestamptz, retry_reason = $3 WHERE id = $1", [routeID, until, reason])
            try Self.recordEvent(conn, kind: "flood_wait", routeID: routeID, detail: ["until": PostgresTimestamp.format(until), "reason": reason])
        }
    }
}
