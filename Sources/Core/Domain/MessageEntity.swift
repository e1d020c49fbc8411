/// A formatting span in Telegram's model: offsets and lengths in UTF-16 code units, as the Bot API and
/// MTProto count them (never `String.count`, which counts grapheme clusters).
public struct MessageEntity: Codable, Sendable, Hashable {
    /// Bot API entity type names: `bold`, `italic`, `underline`, `strikethrough`, `spoiler`, `code`, `pre`,
    /// `text_link`, `url`, `mention`, `text_mention`, `hashtag`, `cashtag`, `bot_command`, `email`,
    /// `phone_number`, `bank_card`, `blockquote`, `expandable_blockquote`, `custom_emoji`.
    public var type: String
    public var offset: Int
    public var length: Int
    /// `text_link` target.
    public var url: String?
    /// `text_mention` user.
    public var userID: Int64?
    /// `pre` language.
    public var language: String?
    /// `custom_emoji` id.
    public var customEmojiID: String?

    enum CodingKeys: String, CodingKey {
        case type, offset, length, url
        case userID = "user_id"
        case language
        case customEmojiID = "custom_emoji_id"
    }

    public init(type: String, offset: Int, length: Int, url: String? = nil, userID: Int64? = nil, language: String? = nil, customEmojiID: String? = nil) {
        self.type = type
        self.offset = offset
        self.length = length
        self.url = url
        self.userID = userID
        self.language = language
        self.customEmojiID = customEmojiID
    }

    /// The UTF-16 range this entity covers.
    public var range: Range<Int> { offset..<(offset + length) }
}

/// Plain text plus entities: Telegram's representation of formatted text.
public struct FormattedText: Codable, Sendable, Hashable {
    public var text: String
    public var entities: [MessageEntity]

    public init(text: String, entities: [MessageEntity] = []) {
        self.text = text
        self.entities = entities
    }

    /// Length in UTF-16 code units, the unit of Telegram's limits.
    public var utf16Length: Int { text.utf16.count }

    /// The text an entity covers, cut on UTF-16 offsets.
    ///
    /// Returns `nil` when the range is outside the text or splits a surrogate pair.
    public func substring(utf16 range: Range<Int>) -> String? {
        let units = text.utf16
        guard range.lowerBound >= 0, range.upperBound <= units.count else { return nil }
        let start = units.index(units.startIndex, offsetBy: range.lowerBound)
        let end = units.index(start, offsetBy: range.count)
        guard let lower = start.samePosition(in: text.unicodeScalars), let upper = end.samePosition(in: text.unicodeScalars) else {
            return nil
        }
        return String(text.unicodeScalars[lower..<upper])
    }

    /// Whether every entity lies inside the text, has a positive length and does not split a surrogate pair.
    public var entitiesAreValid: Bool {
        entities.allSatisfy { $0.length > 0 && substring(utf16: $0.range) != nil }
    }

    /// A copy with `prefix` in front and every entity shifted by its UTF-16 length.
    public func prepending(_ prefix: String) -> FormattedText {
        let shift = prefix.utf16.count
        return FormattedText(text: prefix + text, entities: entities.map { var e = $0; e.offset += shift; return e })
    }
}
