import Foundation

/// The destination refused one unit for a reason that resending cannot fix; the unit is set aside as
/// `failed` for the operator and the route goes on.
public struct UnitRejected: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Publishes into a Telegram channel through the Bot API, as a bot that is an admin there.
///
/// Text goes out as plain text plus explicit `entities` (never a parse mode, so `<`, `&` or `*` in a
/// translation cannot break a post). Each unit follows its ``TelegramPlan``; every call is journaled before
/// it is made and its message ids right after, so an interrupted unit resumes with its next call and only
/// a call interrupted without an answer is uncertain.
///
/// Flood control: calls to one chat are paced to `postsPerMinute` (counted in the database, so overlapping
/// runs share the budget), and a 429 `retry_after` is honoured exactly. A wait longer than
/// `maxInlineWait` throws ``DestinationBusy`` so the job stores it and exits instead of sleeping.
public struct TelegramDestination: Destination {
    public let chat: String
    let client: BotAPIClient
    let mediaRoot: URL?
    let postsPerMinute: Int
    let maxInlineWait: Duration
    /// The job's end (`--max-runtime`); a wait that would pass it is stored instead.
    let deadline: ContinuousClock.Instant?
    let logger: Logger
    let now: @Sendable () -> Date

    public init(
        chat: String, client: BotAPIClient, mediaRoot: URL?, postsPerMinute: Int, maxInlineWait: Duration = .seconds(60),
        deadline: ContinuousClock.Instant? = nil, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.deadline = deadline
        self.chat = chat
        self.client = client
        self.mediaRoot = mediaRoot
        self.postsPerMinute = postsPerMinute
        self.maxInlineWait = maxInlineWait
        self.logger = logger
        self.now = now
    }

    /// Bot API chat ids are numbers; usernames are sent as `@name`.
    var chatParameter: JSONValue { Int64(chat).map(JSONValue.int) ?? .string(chat) }

    public func publish(_ unit: PublicationUnit, journal: any PublicationJournal) async throws -> [[String]] {
        let plan = TelegramPlan(unit: unit, mediaRoot: mediaRoot)
        for note in plan.notes { logger.warning(note, ["unit": unit.key]) }
        let postIDs = unit.items.map(\.postID)
        var sent = try await journal.sentMessages(postIDs: postIDs)
        // Resuming is only safe with the same plan: a file that vanished or a text that changed since the first
        // calls would shift every later call.
        let planHash = plan.fingerprint
        if let other = sent.first(where: { $0.planHash != planHash && !$0.planHash.isEmpty }) {
            throw UnitRejected("the unit changed after its first messages went out (message \(other.messageID)); check the channel, then `JobRunner retry` sends the rest as it is now or `JobRunner skip` leaves it")
        }
        let done = Set(sent.map(\.step))
        for (step, call) in plan.calls.enumerated() where !done.contains(step) {
            let replyTo = call.replyToStep.flatMap { target in sent.first { $0.step == target && $0.seq == 0 }?.messageID }
            let messages = try await send(call, step: step, replyTo: replyTo, postIDs: postIDs, journal: journal, planHash: planHash)
            sent += messages
        }
        return unit.items.map { item in sent.filter { $0.postID == item.postID }.map { String($0.messageID) } }
    }

    public func findPublished(key: String, postIDs: [Int64], journal: any PublicationJournal) async throws -> PublishedLookup {
        // The Bot API cannot read a channel's history, so only the journal can tell.
        if let step = try await journal.interruptedStep(postIDs: postIDs) {
            return .unknown(reason: "call \(step + 1) of the unit was interrupted before Telegram answered; it may or may not have been posted")
        }
        return .missing
    }

    public func finishRun(published: Int) async throws {}

    // MARK: - Edits

    /// Edits the messages of a published post in place.
    ///
    /// The rule: the post's new text is cut exactly as a new post would be; message *i* of the post is edited to
    /// show chunk *i* (its caption for a media message), and a message already showing that chunk gets no call.
    /// When the new text needs more messages, the extra chunks are sent as replies to the post's first
    /// message (the channel has moved on, so they cannot sit beside it); when it needs fewer, the surplus
    /// messages are deleted. "Message is not modified" counts as done.
    public func edit(_ post: PublicationUnit, journal: any PublicationJournal) async throws -> [String] {
        guard let item = post.items.first else { return [] }
        let sent = try await journal.sentMessages(postIDs: [item.postID]).filter { $0.postID == item.postID }
        guard let first = sent.first else {
            logger.notice("edited post has no message in the channel (it had nothing Telegram could carry); nothing to edit", ["message_id": item.source.messageID])
            return []
        }
        // Which messages show the post's text, and how that text is cut: as the plan cut it when it was sent.
        let captioned = first.role == "caption" || first.role == "media"
        let textual = first.role == "media_only" ? Array(sent.dropFirst()) : sent
        let chunks = captioned ? TelegramPlan.captionChunks(item.content) : TelegramPlan.textChunks(item.content)
        guard captioned || !chunks.isEmpty else {
            logger.warning("edited post has no text left; its messages are left as they were", ["message_id": item.source.messageID])
            return sent.map { String($0.messageID) }
        }
        var kept: [SentMessage] = first.role == "media_only" ? [first] : []
        for (index, message) in textual.enumerated() {
            guard index < max(chunks.count, captioned ? 1 : 0) else {
                try await call("deleteMessage", ["chat_id": chatParameter, "message_id": .int(message.messageID)], journal: journal)
                try await journal.forgetSent(postID: item.postID, step: message.step, seq: message.seq)
                continue
            }
            let target = index < chunks.count ? chunks[index] : FormattedText(text: "")
            var updated = message
            if target.contentHash != message.contentHash {
                let caption = index == 0 && captioned
                var parameters: [String: JSONValue] = ["chat_id": chatParameter, "message_id": .int(message.messageID)]
                parameters[caption ? "caption" : "text"] = .string(target.text)
                if !caption, let preview = index == 0 ? TelegramPlan.preview(item.source.linkPreview, for: target, index: 0) : LinkPreview(isDisabled: true) {
                    parameters["link_preview_options"] = try JSONValue(encoding: preview)
                }
                let entities = target.entities.isEmpty ? nil : try JSONValue(encoding: target.entities)
                try await call(caption ? "editMessageCaption" : "editMessageText", parameters, entities: entities.map { (caption ? "caption_entities" : "entities", $0) },
                               journal: journal)
                updated.contentHash = target.contentHash
                try await journal.recordSend(postIDs: [item.postID], step: message.step, chat: chat, messages: [updated])
            }
            kept.append(updated)
        }
        var nextStep = (sent.map(\.step).max() ?? 0) + 1
        let interrupted = try await journal.interruptedStep(postIDs: [item.postID])
        for chunk in chunks.dropFirst(textual.count) {
            if let interrupted, interrupted >= nextStep {
                // An earlier attempt at this extra message got no answer: it may be in the channel. Never send it twice.
                logger.warning("an extra message of an edit may already be in the channel (its send got no answer); not sent again",
                               ["message_id": item.source.messageID])
                try await journal.abandonSend(postIDs: [item.postID], step: interrupted)
                nextStep = interrupted + 1
                continue
            }
            let planned = PlannedCall(kind: .text(chunk, preview: LinkPreview(isDisabled: true)), postIDs: [item.postID], replyToStep: nil, role: "continuation")
            kept += try await send(planned, step: nextStep, replyTo: first.messageID, postIDs: [item.postID], journal: journal)
            nextStep += 1
        }
        return kept.map { String($0.messageID) }
    }

    /// An edit or delete: repeating it is harmless, so it is not journaled; flood control applies as to sends.
    private func call(
        _ method: String, _ parameters: [String: JSONValue], entities: (key: String, value: JSONValue)? = nil, journal: any PublicationJournal
    ) async throws {
        var withEntities = entities != nil
        while true {
            try await pace(journal)
            var withFormatting = parameters
            if withEntities, let entities { withFormatting[entities.key] = entities.value }
            do {
                _ = try await client.call(method, withFormatting, as: JSONValue.self)
                return
            } catch let error as BotAPIError where error.isNotModified {
                return
            } catch let error as BotAPIError where error.isEntityError && withEntities {
                logger.warning("Telegram refused the formatting of an edit; editing without it", ["error": error.description])
                withEntities = false
            } catch let error as BotAPIError where error.code == 429 {
                try await waitOrRest(.seconds(max(1, error.retryAfter ?? 5)), reason: "Telegram flood control (429, retry after \(error.retryAfter ?? 5) s)")
            } catch let error as BotAPIError where method == "deleteMessage" && error.code == 400 {
                // Already gone (deleted by an admin, or older than 48 hours for a bot): nothing left to remove.
                logger.notice("surplus message could not be deleted; left as it is", ["error": error.description])
                return
            } catch let error as BotAPIError {
                throw Self.classify(error, chat: chat)
            }
        }
    }

    // MARK: - Calls

    /// Makes one planned call, waiting out pacing and short flood waits, and journals it.
    private func send(
        _ call: PlannedCall, step: Int, replyTo: Int64?, postIDs: [Int64], journal: any PublicationJournal, planHash: String = ""
    ) async throws -> [SentMessage] {
        var withoutEntities = false
        // Errors not caught below (a timeout, a dropped connection, an unreadable answer) leave the step marked:
        // the call may have been posted, and the job decides what to do with the uncertain unit.
        let size: Int = if case .album(let items) = call.kind { items.count } else { 1 }
        while true {
            try await pace(journal, size: size)
            try await journal.beginSend(postIDs: postIDs, step: step)
            do {
                let ids = try await perform(call, replyTo: replyTo, plain: withoutEntities)
                let messages = ids.enumerated().map { seq, id in
                    SentMessage(postID: call.postIDs[min(seq, call.postIDs.count - 1)], step: step, seq: seq, messageID: id, role: call.role,
                                contentHash: Self.content(of: call, seq: seq).contentHash, planHash: planHash)
                }
                try await journal.recordSend(postIDs: postIDs, step: step, chat: chat, messages: messages)
                return messages
            } catch let error as BotAPIError {
                // Telegram answered, so the call did not take effect.
                try await journal.abandonSend(postIDs: postIDs, step: step)
                if error.code == 429 {
                    let wait = Duration.seconds(max(1, error.retryAfter ?? 5))
                    try await waitOrRest(wait, reason: "Telegram flood control (429, retry after \(error.retryAfter ?? 5) s)")
                    continue
                }
                if error.isEntityError, !withoutEntities {
                    // Never resend a payload Telegram refused; plain text still carries every word.
                    logger.warning("Telegram refused the formatting; sending this message without it", ["error": error.description, "step": step])
                    withoutEntities = true
                    continue
                }
                throw Self.classify(error, chat: chat)
            } catch let error as HTTPError where error.code == .connectionFailed || error.code == .invalidRequest {
                // Nothing reached Telegram.
                try await journal.abandonSend(postIDs: postIDs, step: step)
                throw error
            }
        }
    }

    /// Waits `wait` if it fits in this run; otherwise tells the job to store it.
    private func waitOrRest(_ wait: Duration, reason: String) async throws {
        let remaining = deadline.map { $0 - ContinuousClock.now - .seconds(5) } ?? maxInlineWait
        guard wait <= min(maxInlineWait, remaining) else {
            throw DestinationBusy(until: now().addingTimeInterval(Double(wait.components.seconds)), reason: reason)
        }
        logger.notice("waiting for Telegram", ["reason": reason, "wait_s": wait.components.seconds])
        try await Task.sleep(for: wait)
    }

    /// Holds messages to this chat to `postsPerMinute` over any 60-second window; `size` is what the next call
    /// sends (an album's items). A call bigger than the whole budget goes out once the window is empty.
    private func pace(_ journal: any PublicationJournal, size: Int = 1) async throws {
        while true {
            let (messages, leavesIn) = try await journal.recentSends(toChat: chat)
            guard messages > 0, messages + size > postsPerMinute, let leavesIn else { return }
            let seconds = min(60, max(0, leavesIn)) + 0.05
            try await waitOrRest(.milliseconds(Int(seconds * 1000)), reason: "pacing to \(postsPerMinute) messages a minute in \(chat)")
        }
    }

    private func perform(_ call: PlannedCall, replyTo: Int64?, plain: Bool) async throws -> [Int64] {
        struct Message: Decodable { var message_id: Int64 }
        var parameters: [String: JSONValue] = ["chat_id": chatParameter]
        if let replyTo {
            parameters["reply_parameters"] = .object(["message_id": .int(replyTo), "allow_sending_without_reply": true])
        }
        func addText(_ text: FormattedText, textKey: String, entitiesKey: String) throws {
            parameters[textKey] = .string(text.text)
            if !plain, !text.entities.isEmpty { parameters[entitiesKey] = try JSONValue(encoding: text.entities) }
        }
        switch call.kind {
        case .text(let text, let preview):
            try addText(text, textKey: "text", entitiesKey: "entities")
            if let preview { parameters["link_preview_options"] = try JSONValue(encoding: preview) }
            return [try await client.call("sendMessage", parameters, as: Message.self).message_id]
        case .media(let media, let caption):
            var uploads: [BotAPIUpload] = []
            switch media.source {
            case .fileID(let id): parameters[media.method.field] = .string(id)
            case .upload(let url, let fileName): uploads.append(BotAPIUpload(name: media.method.field, fileName: fileName, url: url))
            }
            if let caption { try addText(caption, textKey: "caption", entitiesKey: "caption_entities") }
            return [try await client.call(media.method.name, parameters, uploads: uploads, timeout: .seconds(300), as: Message.self).message_id]
        case .album(let items):
            var uploads: [BotAPIUpload] = []
            var media: [JSONValue] = []
            for (index, item) in items.enumerated() {
                var entry: [String: JSONValue] = ["type": .string(item.media.type)]
                switch item.media.source {
                case .fileID(let id): entry["media"] = .string(id)
                case .upload(let url, let fileName):
                    uploads.append(BotAPIUpload(name: "file\(index)", fileName: fileName, url: url))
                    entry["media"] = .string("attach://file\(index)")
                }
                if let caption = item.caption {
                    entry["caption"] = .string(caption.text)
                    if !plain, !caption.entities.isEmpty { entry["caption_entities"] = try JSONValue(encoding: caption.entities) }
                }
                media.append(.object(entry))
            }
            parameters["media"] = .array(media)
            return try await client.call("sendMediaGroup", parameters, uploads: uploads, timeout: .seconds(300), as: [Message].self).map(\.message_id)
        }
    }

    /// What message `seq` of a call shows, for the edit fingerprint.
    static func content(of call: PlannedCall, seq: Int) -> FormattedText {
        switch call.kind {
        case .text(let text, _): text
        case .media(_, let caption): caption ?? FormattedText(text: "")
        case .album(let items): seq < items.count ? (items[seq].caption ?? FormattedText(text: "")) : FormattedText(text: "")
        }
    }

    /// Telegram's refusal as an error that says what to fix: the route's setup, or this one unit.
    static func classify(_ error: BotAPIError, chat: String) -> Error {
        let text = error.description.lowercased()
        switch error.code {
        case 401, 404 where !text.contains("telegram_api_url"):
            return TelegramSetupError("Telegram rejected the bot token (\(error.code) \(error.description)); set TELEGRAM_BOT_TOKEN to the token @BotFather gave")
        case 403:
            return TelegramSetupError("the bot may not post in \(chat) (\(error.description)); add it to the channel as an admin allowed to post messages")
        case 400 where text.contains("chat not found") || text.contains("not enough rights") || text.contains("need administrator rights")
            || text.contains("peer_id_invalid") || text.contains("chat_admin_required") || text.contains("telegram_api_url"):
            return TelegramSetupError("the bot cannot post in \(chat) (\(error.description)); check DST_CHANNEL and make the bot an admin allowed to post messages")
        case 400:
            return UnitRejected("Telegram refused it: \(error.description)")
        default:
            return TelegramSetupError("Telegram answered \(error.code) \(error.description) for \(chat); the unit will be sent again next run")
        }
    }
}

/// A Telegram failure that concerns the whole route (token, rights, chat): fix the setup, then run again.
public struct TelegramSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
