import Core
import Foundation

/// `translate-pending`: translates every post that needs a translation for some route's language.
///
/// Posts without words (media only, emoji only) are never sent to a translator. A post whose translation
/// is rejected (a broken answer, a request the API refuses) is recorded with its reason and the others go
/// on; after ``maxAttempts`` rejections it is parked and no longer retried automatically. A transient
/// failure (rate limit, overload, timeout) says nothing about the post: it is recorded without counting
/// toward parking, and the job stops translating for this run, because every further request would meet
/// the same outage and the next run starts again from the same post. A translator that reports a
/// configuration problem (bad API key) stops the job with an error.
public struct TranslatePendingJob: Job {
    public static let name = "translate-pending"
    public static let counters = ["translated", "failed"]
    public static let maxAttempts = 5
    /// How long a claimed batch stays claimed if its runner dies; renewed after every post, so it only has to
    /// outlast one translation request with its retries.
    static let claimTTL: Duration = .seconds(120)
    let pageSize: Int

    public init(pageSize: Int = 10) {
        self.pageSize = pageSize
    }

    public func run(_ context: JobContext) async throws -> JobSummary {
        var summary = Self.emptySummary
        var pairs: [(chatID: Int64, language: LanguageCode)] = []
        for (route, chatID) in try await context.store.routes() where !pairs.contains(where: { $0.chatID == chatID && $0.language == route.spec.targetLanguage }) {
            pairs.append((chatID, route.spec.targetLanguage))
        }
        var total = 0
        for (chatID, language) in pairs {
            total += try await context.store.countUntranslated(chatID: chatID, language: language, maxAttempts: Self.maxAttempts)
        }
        let progress = context.progress(Self.name, total: total, unit: "posts")
        defer { progress.finish() }
        let holder = LeaseGuard.holderName()
        do {
            try await translate(pairs, holder: holder, context: context, progress: progress, into: &summary)
        } catch {
            try? await context.store.releaseTranslationClaims(holder: holder)
            throw error
        }
        try await context.store.releaseTranslationClaims(holder: holder)
        return summary
    }

    private func translate(
        _ pairs: [(chatID: Int64, language: LanguageCode)], holder: String, context: JobContext, progress: ProgressReporter, into summary: inout JobSummary
    ) async throws {
        languages: for (chatID, language) in pairs {
            var cursor: Int64 = .min
            pages: while !context.stop.isStopRequested {
                // Small batches, claimed: runners beside this one take the next batches instead of the same posts.
                try await context.store.releaseTranslationClaims(holder: holder)
                let page = try await context.store.claimUntranslated(
                    chatID: chatID, language: language, afterMessageID: cursor, maxAttempts: Self.maxAttempts, limit: pageSize,
                    holder: holder, ttl: Self.claimTTL)
                if page.isEmpty { break }
                for item in page {
                    guard !context.stop.isStopRequested else { break pages }
                    cursor = item.messageID
                    defer { progress.advance() }
                    do {
                        let output = try await context.translator.translate(item.content, to: language)
                        if try await context.store.saveTranslation(postID: item.postID, language: language, output: output, translator: context.translator.name) {
                            summary["translated"] += 1
                        }
                        try await context.store.renewTranslationClaims(holder: holder, ttl: Self.claimTTL)
                    } catch let error as TranslationError where error.kind != .fatal {
                        summary["failed"] += 1
                        let transient = error.kind == .transient
                        context.logger.warning("translation failed", ["post_id": item.postID, "error": error.description, "transient": transient])
                        if try await context.store.recordTranslationFailure(
                            postID: item.postID, language: language, reason: error.description, usage: error.usage,
                            countsTowardParking: !transient, parkAfter: Self.maxAttempts) {
                            context.logger.warning("post parked after repeated failures; `JobRunner retry \(item.postID)` tries again",
                                                   ["post_id": item.postID, "attempts": Self.maxAttempts])
                        }
                        if transient {
                            context.logger.warning("translator unavailable; stopping translation until the next run")
                            break languages
                        }
                    }
                }
            }
        }
    }
}
