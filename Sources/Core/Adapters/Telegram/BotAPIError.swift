import Foundation

/// Telegram answered a call with `ok: false`: the call did not take effect.
public struct BotAPIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `error_code`, the HTTP status (400, 403, 429…).
    public var code: Int
    public var description: String
    /// `parameters.retry_after`: seconds to wait before the call may be repeated (flood control).
    public var retryAfter: Int?
    /// `parameters.migrate_to_chat_id`: the group became a supergroup with this id.
    public var migrateToChatID: Int64?

    public init(code: Int, description: String, retryAfter: Int? = nil, migrateToChatID: Int64? = nil) {
        self.code = code
        self.description = description
        self.retryAfter = retryAfter
        self.migrateToChatID = migrateToChatID
    }

    static let noDescription = "Bot API error without a description"

    /// The error in a Bot API response body, or `nil` when the body is not one.
    public static func decode(_ data: Data) -> BotAPIError? {
        struct Body: Decodable {
            struct Parameters: Decodable {
                var retry_after: Int?
                var migrate_to_chat_id: Int64?
            }
            var ok: Bool
            var error_code: Int?
            var description: String?
            var parameters: Parameters?
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: data), !body.ok else { return nil }
        return BotAPIError(
            code: body.error_code ?? 0, description: body.description ?? noDescription,
            retryAfter: body.parameters?.retry_after, migrateToChatID: body.parameters?.migrate_to_chat_id)
    }

    /// 400 "message is not modified": an edit to what the message already shows, which is success.
    public var isNotModified: Bool { code == 400 && description.contains("message is not modified") }
    /// 400 about entities Telegram could not apply; resending the same payload can never work.
    public var isEntityError: Bool { code == 400 && (description.contains("entities") || description.contains("entity")) }
}
