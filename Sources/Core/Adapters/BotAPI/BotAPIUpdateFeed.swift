import Foundation

/// Reads channel posts and their edits through `getUpdates`, as a bot that is an admin of the source channels.
///
/// One bot has one update queue, whatever chats its updates come from, so the feed reads it once for every
/// `botapi:` route; posts of chats no route reads are dropped. The caller stores each page's posts with the
/// next offset in one transaction, so an update is confirmed to Telegram only after its post is stored.
public struct BotAPIUpdateFeed: Sendable {
    let client: BotAPIClient
    /// Key of the stored offset: one per bot.
    public let cursorKey: String

    public init(client: BotAPIClient, botToken: String) {
        self.client = client
        self.cursorKey = "botapi:" + (botToken.split(separator: ":").first.map(String.init) ?? "bot")
    }

    public struct FeedError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// One page of updates from `offset`, turned into a batch per configured chat.
    ///
    /// - Parameters:
    ///   - chats: Bot API chat ids of the channels to keep, by the name each route wrote (`@name` or `-100…`).
    public func page(offset: Int64?, chats: [String: Int64]) async throws -> (batches: [SourceBatch], nextOffset: Int64?, warnings: [String]) {
        var parameters: [String: JSONValue] = [
            "limit": 100, "timeout": 0, "allowed_updates": .array(["channel_post", "edited_channel_post"]),
        ]
        if let offset { parameters["offset"] = .int(offset) }
        let data: Data
        do {
            data = try await client.raw("getUpdates", parameters)
        } catch let error as BotAPIError where error.code == 409 {
            throw FeedError(description: "another consumer reads this bot's updates (\(error.description)); stop the other instance or remove its webhook (deleteWebhook), since Telegram gives each update to one consumer only")
        }
        let batch = try BotAPIUpdates.parse(data)
        var warnings = batch.warnings
        let wanted = Set(chats.values)
        var byChat: [Int64: SourceBatch] = [:]
        for item in batch.posts {
            let chat = item.post.chatID
            guard wanted.contains(chat) || item.chatUsername.map({ chats["@" + $0.lowercased()] != nil }) == true else { continue }
            var entry = byChat[chat] ?? SourceBatch(chatID: chat, title: item.chatTitle ?? "", posts: [], lastMessageID: nil)
            if item.isEdit {
                entry.edits.append(item.post)
            } else {
                entry.posts.append(item.post)
                entry.lastMessageID = max(entry.lastMessageID ?? item.post.messageID, item.post.messageID)
            }
            byChat[chat] = entry
        }
        // Two edits of one post in a page: only the last is the post's text now (an UPDATE from both would pick one at random).
        for (chat, entry) in byChat where entry.edits.count > 1 {
            var latest: [Int64: SourcePost] = [:]
            for edit in entry.edits { latest[edit.messageID] = edit }
            byChat[chat]?.edits = latest.values.sorted { $0.messageID < $1.messageID }
        }
        if batch.ignoredCount > 0 { warnings.append("ignored \(batch.ignoredCount) updates that are not channel posts") }
        return (byChat.values.sorted { $0.chatID < $1.chatID }, batch.nextOffset, warnings)
    }

    /// The numeric id of `@name`, through `getChat`.
    public func resolve(_ chat: String) async throws -> Int64 {
        if let id = Int64(chat) { return id }
        struct Chat: Decodable { var id: Int64 }
        return try await client.call("getChat", ["chat_id": .string(chat)], as: Chat.self).id
    }
}
