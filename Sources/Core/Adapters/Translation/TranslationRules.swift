import Foundation

/// What a good translation must look like, from the operator's settings: the style asked for, how hashtags
/// are treated and how far the length may drift. Shared by every model provider.
public struct TranslationRules: Sendable, Hashable {
    public enum HashtagPolicy: String, Sendable, Hashable, CaseIterable {
        /// `#Україна` stays `#Україна`: the tag keeps working as a link to the same posts.
        case keep
        /// `#ВажныеНовости` becomes `#ImportantNews`: readable in the target language, `#` kept, no spaces.
        case translate
    }

    /// Free text for the model, e.g. "Neutral news register; keep place names in their Ukrainian spelling".
    public var style: String
    public var hashtags: HashtagPolicy
    /// Translation length over source length (UTF-16) outside these bounds is rejected for posts long enough
    /// for the ratio to mean something.
    public var lengthRatio: ClosedRange<Double>
    /// Below this many UTF-16 code units the ratio is not checked ("Да!" → "Yes!").
    public var ratioMinimumLength: Int

    public init(style: String = "", hashtags: HashtagPolicy = .keep, lengthRatio: ClosedRange<Double> = 0.25...4.0, ratioMinimumLength: Int = 40) {
        self.style = style
        self.hashtags = hashtags
        self.lengthRatio = lengthRatio
        self.ratioMinimumLength = ratioMinimumLength
    }

    /// Entity kinds whose text must come back byte-identical; they travel as placeholders.
    public var protectedKinds: Set<String> {
        var kinds: Set<String> = ["url", "mention", "cashtag", "bot_command", "email", "phone_number", "bank_card", "code", "pre", "custom_emoji"]
        if hashtags == .keep { kinds.insert("hashtag") }
        return kinds
    }

    /// Parses `0.25-4` (low and high ratio).
    public static func parseRatio(_ text: String) -> ClosedRange<Double>? {
        let parts = text.split(separator: "-").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low > 0, high > low, high.isFinite else { return nil }
        return low...high
    }
}
