import Foundation

/// `retry` and `skip`: an operator's decisions about parked or unwanted posts, each recorded as an event.
///
/// Both act on the whole publishing unit (an album's posts go out together or not at all), on every route
/// that reads the post's channel unless one route is named.
public struct OperatorActions: Sendable {
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public struct Outcome: Sendable, Equatable {
        /// Posts of the unit changed, and routes affected.
        public var postIDs: [Int64]
        public var routeIDs: [Int64]
    }

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Makes a parked or skipped post eligible again: its failure count is cleared (translation is attempted
    /// afresh), and a skip, an uncertain or a refused publication is lifted (what the unit already has in the
    /// destination stays recorded, so only its missing messages are sent).
    public func retry(postID: Int64, routeID: Int64? = nil) async throws -> Outcome {
        try await database.transaction { conn in
            let (postIDs, routes) = try Self.unitAndRoutes(conn, postID: postID, routeID: routeID)
            var changed = 0
            for post in postIDs {
                for (route, lang) in routes {
                    changed += try conn.query(
                        "DELETE FROM mirror.translation_failures WHERE post_id = $1 AND target_lang = $2", [post, lang]).affectedRows
                    changed += try conn.query(
                        "DELETE FROM mirror.publications WHERE route_id = $1 AND post_id = $2 AND state IN ('skipped', 'uncertain', 'failed')",
                        [route, post]).affectedRows
                }
            }
            guard changed > 0 else {
                throw Refusal(description: "post \(postID) is neither parked, failed, uncertain nor skipped, so there is nothing to retry; `JobRunner status` lists parked posts")
            }
            for post in postIDs {
                for (route, _) in routes {
                    try MirrorStore.recordEvent(conn, kind: "retried", routeID: route, postID: post, detail: ["by": "operator"])
                }
            }
            return Outcome(postIDs: postIDs, routeIDs: routes.map(\.0))
        }
    }

    /// Marks the post's unit as never to be published on the route(s); already published posts stay as they are.
    public func skip(postID: Int64, routeID: Int64? = nil) async throws -> Outcome {
        try await database.transaction { conn in
            let (postIDs, routes) = try Self.unitAndRoutes(conn, postID: postID, routeID: routeID)
            var skippedRoutes: [Int64] = []
            for (route, _) in routes {
                let published = try conn.query("""
                    SELECT count(*)::int AS n FROM mirror.publications WHERE route_id = $1 AND post_id = ANY($2::bigint[]) AND state = 'published'
                    """, [route, MetricsQuery.bucketArray(postIDs)]).first!.decode("n", as: Int.self)
                guard published == 0 else { continue }
                for post in postIDs {
                    try conn.query("""
                        INSERT INTO mirror.publications (route_id, post_id, state) VALUES ($1, $2, 'skipped')
                        ON CONFLICT (route_id, post_id) DO UPDATE SET state = 'skipped', updated_at = now()
                        """, [route, post])
                    try MirrorStore.recordEvent(conn, kind: "skipped", routeID: route, postID: post, detail: ["by": "operator"])
                }
                skippedRoutes.append(route)
            }
            guard !skippedRoutes.isEmpty else {
                throw Refusal(description: "post \(postID) is already published on \(routeID.map { "route \($0)" } ?? "every route"); nothing to skip")
            }
            return Outcome(postIDs: postIDs, routeIDs: skippedRoutes)
        }
    }

    /// The post's album (or the post alone) and the routes (id, language) that read its channel.
    static func unitAndRoutes(_ conn: PostgresConnection, postID: Int64, routeID: Int64?) throws -> ([Int64], [(Int64, String)]) {
        let unit: [Int64] = try conn.query("""
            SELECT p.id FROM mirror.posts p JOIN mirror.posts first ON first.id = $1
            WHERE p.id = first.id OR (first.album_id IS NOT NULL AND p.chat_id = first.chat_id AND p.album_id = first.album_id)
            ORDER BY p.message_id
            """, [postID]).map { try $0.decode("id") }
        guard !unit.isEmpty else {
            throw Refusal(description: "there is no post \(postID); use the post id that `JobRunner status` shows")
        }
        let routes: [(Int64, String)] = try conn.query("""
            SELECT r.id, r.target_lang FROM mirror.routes r JOIN mirror.posts p ON p.id = $1 AND r.source_chat_id = p.chat_id
            WHERE $2::bigint IS NULL OR r.id = $2 ORDER BY r.id
            """, [postID, routeID]).map { (try $0.decode("id"), try $0.decode("target_lang")) }
        guard !routes.isEmpty else {
            throw Refusal(description: routeID.map { "route \($0) does not read the channel of post \(postID); `JobRunner status` lists routes" }
                          ?? "no route reads the channel of post \(postID)")
        }
        return (unit, routes)
    }
}
