import Core
import Foundation

/// `translate-pending`: translates every post that needs a translation for some route's language.
///
/// Posts without words (media only, emoji only) are never sent to a translator. Posts go to the translator a
/// few at a time (``TranslationBatchLimits``), up to `TRANSLATE_CONCURRENCY` requests at once, and each
/// post's outcome is stored on its own: a translation, or a failure with its reason. A failure the post
/// causes (an answer still broken after a corrected retry, a request the API refuses) parks it at once; an
/// outage counts an attempt and parks it after `TRANSLATE_MAX_ATTEMPTS`. After an outage the others go on,
/// unless `STRICT_ORDER` asks that nothing overtakes the failed post, or requests keep failing, in which
/// case the job stops translating until the next run. A configuration problem (bad API key) stops the job.
///
/// A backlog (`TRANSLATE_BATCH_API_THRESHOLD` pending posts or more) goes to Claude's Message Batches API
/// instead: this run submits, a later run collects, and nothing waits in memory meanwhile.
public struct TranslatePendingJob: Job {
    public static let name = "translate-pending"
    public static let counters = ["translated", "failed", "batched"]
    /// How long claimed posts stay claimed if their runner dies; a heartbeat renews them while the run works.
    static let claimTTL: Duration = .seconds(300)
    /// Rounds of requests in a row that all failed for the API's sake before the run gives up on it.
    static let outageRounds = 2
    /// Most posts one Message Batch carries (the API takes 100,000 requests; this bounds one run's work).
    static let batchPostLimit = 20_000

    public init() {}

    struct Pair: Equatable {
        var chatID: Int64
        var language: LanguageCode
    }

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        var pairs: [Pair] = []
        for (route, chatID) in try await context.store.routes() where !pairs.contains(Pair(chatID: chatID, language: route.spec.targetLanguage)) {
            pairs.append(Pair(chatID: chatID, language: route.spec.targetLanguage))
        }
        let settings = context.config.translation
        let batches = (context.translator as? any MessageBatchTranslator).flatMap { $0.supportsMessageBatches ? $0 : nil }
        if let batches {
            try await collectBatches(batches, context: context, into: &summary)
        } else {
            // Batches left by an earlier configuration (TRANSLATOR changed) cannot be collected by this
            // translator; their posts would otherwise wait forever.
            for batch in try await context.store.openBatches() {
                context.logger.warning("message batch cannot be collected by this translator; its posts are translated again",
                                       ["batch_id": batch.id, "submitted_by": batch.translator, "translator": context.translator.name])
                try await context.store.closeBatch(batch.id, outcome: "abandoned")
            }
        }
        var pending: [Int] = []
        for pair in pairs {
            pending.append(try await context.store.countUntranslated(chatID: pair.chatID, language: pair.language))
        }
        let holder = LeaseGuard.holderName()
        var live: [Pair] = []
        for (pair, count) in zip(pairs, pending) {
            if let batches, settings.batchAPIThreshold > 0, count >= settings.batchAPIThreshold, !context.stop.isStopRequested {
                try await submitBatch(batches, pair: pair, holder: holder, context: context, into: &summary)
            } else {
                live.append(pair)
            }
        }
        let total = zip(pairs, pending).filter { live.contains($0.0) }.reduce(0) { $0 + $1.1 }
        let progress = context.progress(Self.name, total: total, unit: "posts")
        defer { progress.finish() }
        // A request with its retries may outlast the claim's lifetime; the heartbeat keeps the claims this
        // run's, so no other runner pays for the same posts meanwhile.
        let store = context.store
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.claimTTL / 4)
                try? await store.renewTranslationClaims(holder: holder, ttl: Self.claimTTL)
            }
        }
        defer { heartbeat.cancel() }
        do {
            try await RequestDeadline.$current.withValue(context.deadline) {
                try await translate(live, holder: holder, context: context, progress: progress, into: &summary)
            }
        } catch {
            try? await context.store.releaseTranslationClaims(holder: holder)
            throw error
        }
        try await context.store.releaseTranslationClaims(holder: holder)
        return summary
    }

    // MARK: - Live

    private func translate(_ pairs: [Pair], holder: String, context: JobContext, progress: ProgressReporter, into summary: inout JobSummary) async throws {
        let settings = context.config.translation
        let translator = context.translator
        let limits = translator.batchLimits
        languages: for pair in pairs {
            let glossary = try await glossary(for: pair.language, context: context)
            if let source = context.config.translation.sourceLanguage {
                if translator is ModelTranslator {
                    context.logger.info("glossary", ["pair": "\(source)→\(pair.language)", "terms": glossary.terms.count])
                } else if !glossary.isEmpty {
                    context.logger.warning("this translator does not apply the glossary; only Claude and OpenAI-compatible translators do",
                                           ["translator": translator.name, "pair": "\(source)→\(pair.language)", "terms": glossary.terms.count])
                }
            }
            var cursor: Int64 = .min
            var failedRounds = 0
            pages: while !context.stop.isStopRequested {
                // Claimed: runners beside this one take the next posts instead of the same ones.
                try await context.store.releaseTranslationClaims(holder: holder)
                let page = try await context.store.claimUntranslated(
                    chatID: pair.chatID, language: pair.language, afterMessageID: cursor,
                    limit: min(limits.posts, 100) * settings.concurrency * 2, holder: holder, ttl: Self.claimTTL)
                if page.isEmpty { break }
                cursor = page.last!.messageID
                let chunks = limits.chunks(page.map { TranslationItem(postID: $0.postID, content: $0.content) })
                var start = 0
                while start < chunks.count {
                    guard !context.stop.isStopRequested else { break pages }
                    let round = Array(chunks[start..<min(start + settings.concurrency, chunks.count)])
                    start += round.count
                    let results = await Self.translateConcurrently(round, translator: translator, language: pair.language, glossary: glossary)
                    var transientOnly = true
                    var blocked = false
                    var fatal: (any Error)?
                    for (chunk, result) in zip(round, results) {
                        // What the other requests of the round brought back was paid for: stored before a fatal error ends the job.
                        if let error = result.error {
                            fatal = fatal ?? error
                            continue
                        }
                        let outcome = result.results
                        try await record(chunk, outcome, language: pair.language, context: context, progress: progress, summary: &summary)
                        for item in chunk {
                            guard case .failure(let error)? = outcome[item.postID] else { transientOnly = false; continue }
                            if error.kind == .transient { blocked = blocked || context.config.strictOrder } else { transientOnly = false }
                        }
                    }
                    if let fatal { throw fatal }
                    if blocked {
                        // Field report B20: in strict order nothing of this language may overtake the post that failed.
                        context.logger.warning("translation failed in strict order; the next run resumes at that post", ["target_lang": pair.language])
                        continue languages
                    }
                    failedRounds = transientOnly ? failedRounds + 1 : 0
                    if failedRounds >= Self.outageRounds {
                        context.logger.warning("translator unavailable; stopping translation until the next run")
                        break languages
                    }
                }
            }
        }
    }

    /// What one request brought back, or the fatal error it ended with.
    struct RequestOutcome: Sendable {
        var index: Int
        var results: [Int64: Result<TranslationOutput, TranslationError>] = [:]
        var error: (any Error)?
    }

    /// Up to one request per chunk in flight at once; each request's outcome, in the chunks' order. The HTTP
    /// transfers run off the cooperative pool (``HTTPClient``), so waiting here blocks no thread.
    static func translateConcurrently(
        _ chunks: [[TranslationItem]], translator: any Translator, language: LanguageCode, glossary: Glossary
    ) async -> [RequestOutcome] {
        // A struct, not a tuple holding a `Result<_, any Error>`: the latter came back with a garbled index
        // from child tasks in release builds (Swift 6.3.1).
        var outcomes = chunks.indices.map { RequestOutcome(index: $0) }
        await withTaskGroup(of: RequestOutcome.self) { group in
            for (index, chunk) in chunks.enumerated() {
                group.addTask {
                    do {
                        return RequestOutcome(index: index, results: try await translator.translate(chunk, to: language, glossary: glossary))
                    } catch {
                        return RequestOutcome(index: index, error: error)
                    }
                }
            }
            for await outcome in group { outcomes[outcome.index] = outcome }
        }
        return outcomes
    }

    /// Posts in `stale` changed since they were sent: their share of the bill counts, their outcome does not.
    private func record(
        _ chunk: [TranslationItem], _ outcome: [Int64: Result<TranslationOutput, TranslationError>], language: LanguageCode, viaBatch: Bool = false,
        stale: Set<Int64> = [], context: JobContext, progress: ProgressReporter, summary: inout JobSummary
    ) async throws {
        var bill = TokenUsage()
        var translated = 0
        for item in chunk {
            let result = outcome[item.postID]
            if let result { bill.add(result.usage) }
            if stale.contains(item.postID) { continue }
            defer { progress.advance() }
            switch result {
            case .success(let output)?:
                // Stored only if the post still reads as it did when sent (an edit meanwhile asks for a new translation).
                if try await context.store.saveTranslation(postID: item.postID, language: language, output: output,
                                                           translator: context.translator.name, source: item.content) {
                    summary["translated"] += 1
                    translated += 1
                }
            case .failure(let error)?:
                summary["failed"] += 1
                context.logger.warning("translation failed", ["post_id": item.postID, "error": error.description, "transient": error.kind == .transient])
                if try await context.store.recordTranslationFailure(
                    postID: item.postID, language: language, reason: error.description, usage: error.usage,
                    parkNow: error.kind == .rejected, parkAfter: context.config.translation.maxAttempts) {
                    context.logger.warning("post parked; `JobRunner retry \(item.postID)` tries again", ["post_id": item.postID, "reason": error.description])
                }
            case nil:
                break
            }
        }
        if bill.requests > 0 || bill.inputTokens > 0 {
            try await context.store.recordTranslationRequest(.init(
                translator: context.translator.name, language: language, viaBatch: viaBatch, posts: chunk.count, translated: translated, usage: bill))
        }
    }

    private func glossary(for language: LanguageCode, context: JobContext) async throws -> Glossary {
        guard let source = context.config.translation.sourceLanguage else { return Glossary() }
        return try await context.store.glossary(from: source, to: language)
    }

    // MARK: - Message Batches

    private func submitBatch(_ translator: any MessageBatchTranslator, pair: Pair, holder: String, context: JobContext, into summary: inout JobSummary) async throws {
        var items: [TranslationItem] = []
        var cursor: Int64 = .min
        while items.count < Self.batchPostLimit {
            let page = try await context.store.claimUntranslated(
                chatID: pair.chatID, language: pair.language, afterMessageID: cursor, limit: 1000, holder: holder, ttl: Self.claimTTL)
            guard let last = page.last else { break }
            cursor = last.messageID
            items += page.map { TranslationItem(postID: $0.postID, content: $0.content) }
        }
        guard !items.isEmpty else { return }
        let requests = translator.batchLimits.chunks(items).enumerated().map { (customID: "r\($0.offset)", items: $0.element) }
        let glossary = try await glossary(for: pair.language, context: context)
        do {
            let id = try await translator.submitBatch(requests, to: pair.language, glossary: glossary)
            try await context.store.recordSubmittedBatch(id: id, language: pair.language, translator: translator.name,
                                                         requests: requests.map { ($0.customID, $0.items.map(\.postID)) })
            summary["batched"] += items.count
            context.logger.info("backlog submitted as a message batch; a later run collects it", [
                "batch_id": id, "posts": items.count, "requests": requests.count, "target_lang": pair.language,
            ])
        } catch let error as TranslationError where error.kind != .fatal {
            // Nothing was submitted: the posts stay pending and the live path takes them next run.
            context.logger.warning("message batch not submitted; will try again next run", ["error": error.description])
        }
        try await context.store.releaseTranslationClaims(holder: holder)
    }

    private func collectBatches(_ translator: any MessageBatchTranslator, context: JobContext, into summary: inout JobSummary) async throws {
        for batch in try await context.store.openBatches() {
            let items = try await context.store.batchItems(batch.id)
            // Every request is rebuilt as submitted (local ids are positions); results of edited posts are dropped.
            let submitted = items.mapValues { $0.map { TranslationItem(postID: $0.postID, content: $0.content) } }
            let stale = Set(items.values.flatMap { $0.filter(\.stale).map(\.postID) })
            let glossary = try await glossary(for: batch.language, context: context)
            let collection: BatchCollection?
            do {
                collection = try await translator.collectBatch(batch.id, requests: submitted, to: batch.language, glossary: glossary)
            } catch let error as TranslationError where error.kind == .rejected {
                // The API no longer knows the batch (deleted, or its results archived): its posts are pending again.
                context.logger.warning("message batch is gone; its posts are translated again", ["batch_id": batch.id, "error": error.description])
                try await context.store.closeBatch(batch.id, outcome: "gone")
                continue
            } catch let error as TranslationError where error.kind != .fatal {
                context.logger.warning("message batch not collected; will try again next run", ["batch_id": batch.id, "error": error.description])
                continue
            }
            guard let collection else {
                context.logger.info("message batch still processing", ["batch_id": batch.id, "submitted_at": batch.submittedAt])
                continue
            }
            let progress = context.progress(Self.name + " (batch)", total: submitted.values.reduce(0) { $0 + $1.count } - stale.count, unit: "posts")
            for customID in submitted.keys.sorted() {
                guard let chunk = submitted[customID], !chunk.isEmpty else { continue }
                try await record(chunk, collection.results, language: batch.language, viaBatch: true, stale: stale, context: context, progress: progress, summary: &summary)
            }
            progress.finish()
            try await context.store.closeBatch(batch.id, outcome: collection.outcome)
        }
    }
}
