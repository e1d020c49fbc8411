import Foundation

/// Reads a public channel through its web preview, `https://t.me/s/<channel>`, page by page back to the
/// stored offset (`?before=`).
///
/// The preview is lossy: it shows about 20 posts a page, hides some ("Please open Telegram to view this
/// post"), and drops some formatting (quotes, spoilers). Ids missing from the pages between the offset and
/// the newest post are returned as gaps for the operator, never skipped silently. Edited posts still on the
/// pages are returned as edits (the store applies them only when the text changed).
public struct WebPreviewSource: PostSource {
    public let channel: String
    let baseURL: String
    let http: any HTTPTransport
    /// Pages read at most per fetch; without an offset only the newest page is read (mirroring starts there).
    let maxPages: Int

    public init(channel: String, baseURL: String = "https://t.me", http: any HTTPTransport, maxPages: Int = 200) {
        self.channel = channel
        self.baseURL = baseURL
        self.http = http
        self.maxPages = maxPages
    }

    public var knownChatID: Int64? { SourceSpec.webPreviewChatID(channel) }

    public struct FetchError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public func fetch(after offset: Int64?) async throws -> SourceBatch {
        let chatID = SourceSpec.webPreviewChatID(channel)
        var byID: [Int64: SourcePost] = [:]
        var seen = Set<Int64>()
        var edited = Set<Int64>()
        var warnings: [String] = []
        var title = channel
        var before: Int64?
        var pages = 0
        repeat {
            let url = "\(baseURL)/s/\(channel)" + (before.map { "?before=\($0)" } ?? "")
            let response = try await http.send(HTTPRequest(url: url, headers: [("accept", "text/html")], timeout: .seconds(30)))
            guard response.status == 200 else {
                throw FetchError(description: "t.me/s/\(channel) answered HTTP \(response.status); check that the channel is public and the name in SRC_CHANNEL is right")
            }
            let page: WebPreviewPage
            do {
                page = try WebPreviewPage.parse(html: String(decoding: response.body, as: UTF8.self), channel: channel)
            } catch {
                throw FetchError(description: "t.me/s/\(channel) is not a channel preview page (\(error)); check that the channel is public")
            }
            pages += 1
            title = page.title ?? title
            warnings += page.warnings
            seen.formUnion(page.seenMessageIDs)
            seen.formUnion(page.serviceMessageIDs)
            for post in page.posts where byID[post.messageID] == nil {
                if post.unsupported { warnings.append("post \(post.messageID) cannot be shown by the web preview; its content may be incomplete") }
                byID[post.messageID] = post.sourcePost(chatID: chatID)
                if post.isEdited { edited.insert(post.messageID) }
            }
            // The first run mirrors from the newest page on; later runs page back until they reach the offset.
            guard let offset, !page.reachesBack(to: offset), let next = page.beforeCursor, next != before else { break }
            before = next
        } while pages < maxPages

        let posts = byID.values.sorted { $0.messageID < $1.messageID }
        var batch = SourceBatch(chatID: chatID, title: title, posts: posts.filter { $0.messageID > (offset ?? .min) }, lastMessageID: seen.max())
        batch.edits = posts.filter { $0.messageID <= (offset ?? .min) && edited.contains($0.messageID) }
        batch.gaps = offset.map { Self.gaps(after: $0, seen: seen) } ?? []
        if pages == maxPages, let offset, let oldest = seen.min(), oldest - 1 > offset {
            warnings.append("read \(pages) pages without reaching the stored offset \(offset); ids \(offset + 1)…\(oldest - 1) are recorded as gaps")
        }
        batch.warnings = warnings
        return batch
    }

    /// The ranges in `(offset, newest seen]` that no page showed.
    static func gaps(after offset: Int64, seen: Set<Int64>) -> [ClosedRange<Int64>] {
        var ranges: [ClosedRange<Int64>] = []
        var previous = offset
        for id in seen.sorted() where id > offset {
            if id > previous + 1 { ranges.append((previous + 1)...(id - 1)) }
            previous = id
        }
        return ranges
    }
}
