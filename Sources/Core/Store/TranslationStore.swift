import Foundation

/// Glossaries, the per-request cost ledger and Message Batches in flight.
extension MirrorStore {
    // MARK: - Glossary

    public func glossary(from source: LanguageCode, to target: LanguageCode) async throws -> Glossary {
        let rows = try await database.withConnection { conn in
            try conn.query("""
                SELECT source_term, target_term, note FROM mirror.glossary_terms
                WHERE source_lang = $1 AND target_lang = $2 ORDER BY lower(source_term)
                """, [source.description, target.description])
        }
        return Glossary(try rows.map { Glossary.Term(source: try $0.decode("source_term"), target: try $0.decode("target_term"), note: try $0.decode("note")) })
    }

    /// Adds or updates `glossary`'s terms for the pair (matching source terms in any letter case); with
    /// `replace`, terms not in `glossary` are removed. One transaction and one event.
    /// - Returns: how many terms the pair holds afterwards.
    @discardableResult
    public func importGlossary(_ glossary: Glossary, from source: LanguageCode, to target: LanguageCode, replace: Bool) async throws -> Int {
        try await database.transaction { conn in
            if replace {
                try conn.query("DELETE FROM mirror.glossary_terms WHERE source_lang = $1 AND target_lang = $2", [source.description, target.description])
            }
            for term in glossary.terms {
                try conn.query("""
                    INSERT INTO mirror.glossary_terms (source_lang, target_lang, source_term, target_term, note) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (source_lang, target_lang, lower(source_term))
                    DO UPDATE SET source_term = EXCLUDED.source_term, target_term = EXCLUDED.target_term, note = EXCLUDED.note, updated_at = now()
                    """, [source.description, target.description, term.source, term.target, term.note])
            }
            let count: Int = try conn.query("""
                SELECT count(*)::int AS n FROM mirror.glossary_terms WHERE source_lang = $1 AND target_lang = $2
                """, [source.description, target.description]).first!.decode("n")
            try Self.recordEvent(conn, kind: "glossary_imported", postID: nil, detail: [
                "source_lang": source.description, "target_lang": target.description, "terms": String(glossary.terms.count),
                "total": String(count), "replace": String(replace),
            ])
            return count
        }
    }

    // MARK: - Requests

    /// One translation request as billed: its posts, how many came back usable, its tokens and cost.
    public struct TranslationRequestRecord: Sendable {
        public var translator: String
        public var language: LanguageCode
        public var viaBatch: Bool
        public var posts: Int
        public var translated: Int
        public var usage: TokenUsage
        public init(translator: String, language: LanguageCode, viaBatch: Bool, posts: Int, translated: Int, usage: TokenUsage) {
            self.translator = translator
            self.language = language
            self.viaBatch = viaBatch
            self.posts = posts
            self.translated = translated
            self.usage = usage
        }
    }

    public func recordTranslationRequest(_ record: TranslationRequestRecord) async throws {
        let u = record.usage
        try await database.transaction { conn in
            try conn.query("""
                INSERT INTO mirror.translation_requests (translator, target_lang, via_batch, posts, translated, requests, input_tokens,
                    output_tokens, cache_write_tokens, cache_read_tokens, cost_usd)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::numeric)
                """, [record.translator, record.language.description, record.viaBatch, record.posts, record.translated, u.requests,
                      u.inputTokens, u.outputTokens, u.cacheWriteTokens, u.cacheReadTokens, String(format: "%.6f", u.costUSD)])
        }
    }

    // MARK: - Message Batches

    /// A post of a submitted batch, under the request (`custom_id`) that carries it.
    public struct BatchItem: Sendable {
        public var customID: String
        public var postID: Int64
        public var content: FormattedText
        /// The post changed (an edit) since the batch was submitted; its result must be dropped.
        public var stale: Bool
    }

    public struct OpenBatch: Sendable {
        public var id: String
        public var language: LanguageCode
        public var translator: String
        public var submittedAt: Date
    }

    /// Records a submitted batch with every post it carries, in request order.
    public func recordSubmittedBatch(id: String, language: LanguageCode, translator: String, requests: [(customID: String, postIDs: [Int64])]) async throws {
        try await database.transaction { conn in
            try conn.query("INSERT INTO mirror.translation_batches (id, target_lang, translator) VALUES ($1, $2, $3)",
                           [id, language.description, translator])
            for request in requests {
                for (position, postID) in request.postIDs.enumerated() {
                    try conn.query("""
                        INSERT INTO mirror.translation_batch_items (batch_id, custom_id, position, post_id, target_lang, content_md5)
                        SELECT $1, $2, $3, p.id, $5, md5(p.text || p.entities::text) FROM mirror.posts p WHERE p.id = $4
                        """, [id, request.customID, position, postID, language.description])
                }
            }
            try Self.recordEvent(conn, kind: "translation_batch_submitted", postID: nil, detail: [
                "batch_id": id, "target_lang": language.description, "requests": String(requests.count),
                "posts": String(requests.reduce(0) { $0 + $1.postIDs.count }),
            ])
        }
    }

    public func openBatches() async throws -> [OpenBatch] {
        try await database.withConnection { conn in
            try conn.query("""
                SELECT id, target_lang, translator, submitted_at FROM mirror.translation_batches WHERE collected_at IS NULL ORDER BY submitted_at
                """).map { row in
                OpenBatch(id: try row.decode("id"), language: LanguageCode(try row.decode("target_lang", as: String.self))!,
                          translator: try row.decode("translator"), submittedAt: try row.decode("submitted_at"))
            }
        }
    }

    /// The posts of batch `id` by request, in submission order, with their current text.
    public func batchItems(_ id: String) async throws -> [String: [BatchItem]] {
        let rows = try await database.withConnection { conn in
            try conn.query("""
                SELECT bi.custom_id, bi.post_id, p.text, p.entities, md5(p.text || p.entities::text) <> bi.content_md5 AS stale
                FROM mirror.translation_batch_items bi JOIN mirror.posts p ON p.id = bi.post_id
                WHERE bi.batch_id = $1 ORDER BY bi.custom_id, bi.position
                """, [id])
        }
        var items: [String: [BatchItem]] = [:]
        for row in rows {
            let item = BatchItem(customID: try row.decode("custom_id"), postID: try row.decode("post_id"),
                                 content: FormattedText(text: try row.decode("text"), entities: try row.decodeJSON("entities")),
                                 stale: try row.decode("stale"))
            items[item.customID, default: []].append(item)
        }
        return items
    }

    /// Closes batch `id`: its posts are no longer held by it (the untranslated ones become pending again).
    public func closeBatch(_ id: String, outcome: String) async throws {
        try await database.transaction { conn in
            try conn.query("UPDATE mirror.translation_batches SET collected_at = now(), outcome = $2 WHERE id = $1", [id, outcome])
            try Self.recordEvent(conn, kind: "translation_batch_collected", postID: nil, detail: ["batch_id": id, "outcome": outcome])
        }
    }
}
