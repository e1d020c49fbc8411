/// Cuts formatted text into messages Telegram accepts: each chunk at most `limit` UTF-16 code units (the
/// unit Telegram counts, after entity parsing) and at most `maxEntities` entities.
///
/// Cuts fall at the last paragraph break in the window, else the last line break, else the end of a
/// sentence, else a space, else a grapheme-cluster boundary, so no surrogate pair or emoji sequence is ever
/// split. Entities crossing a cut are carried into both chunks with their offsets rebased. Whitespace at
/// the cut is dropped (Telegram trims it and would shift the entities). Nothing is ever truncated.
public enum TextSplitter {
    public static let messageLimit = 4096
    public static let captionLimit = 1024
    public static let entityLimit = 100

    /// - Parameters:
    ///   - firstLimit: the first chunk's limit (1024 when it is a caption), the others get `limit`.
    public static func split(_ text: FormattedText, firstLimit: Int? = nil, limit: Int = messageLimit, maxEntities: Int = entityLimit) -> [FormattedText] {
        let units = Array(text.text.utf16)
        let boundaries = graphemeBoundaries(text.text)
        let entities = text.entities.sorted { ($0.offset, $0.length) < ($1.offset, $1.length) }
        var chunks: [FormattedText] = []
        var start = skipWhitespace(units, from: 0)
        while start < units.count {
            let currentLimit = chunks.isEmpty ? (firstLimit ?? limit) : limit
            var end = min(units.count, start + currentLimit)
            // Too many entities in the window: end before the first one over the limit.
            let inWindow = entities.filter { $0.offset < end && $0.offset + $0.length > start }
            if inWindow.count > maxEntities {
                end = max(start + 1, inWindow[maxEntities].offset)
            }
            if end < units.count {
                end = cut(units, boundaries: boundaries, from: start, upTo: end)
            }
            var chunkEnd = end
            while chunkEnd > start, isWhitespace(units[chunkEnd - 1]) { chunkEnd -= 1 }
            if chunkEnd > start {
                var chunk = slice(units, entities, start, chunkEnd)
                // More entities than allowed starting at one offset: a one-unit window still holds them all; keep
                // the first ones (the text is never dropped).
                if chunk.entities.count > maxEntities { chunk.entities = Array(chunk.entities.prefix(maxEntities)) }
                chunks.append(chunk)
            }
            start = skipWhitespace(units, from: end)
        }
        return chunks.isEmpty ? [FormattedText(text: "")] : chunks
    }

    /// The best cut in `(start, limitEnd]`, preferring paragraph, line, sentence, word, then grapheme ends.
    static func cut(_ units: [UInt16], boundaries: Set<Int>, from start: Int, upTo limitEnd: Int) -> Int {
        let newline: UInt16 = 10
        // Search backwards for each preference, but not so far that the chunk becomes tiny.
        let floor = start + max(1, (limitEnd - start) / 4)
        func last(_ predicate: (Int) -> Bool) -> Int? {
            var i = limitEnd
            while i > floor {
                if boundaries.contains(i), predicate(i) { return i }
                i -= 1
            }
            return nil
        }
        if let i = last({ $0 >= 2 && units[$0 - 1] == newline && units[$0 - 2] == newline }) { return i }
        if let i = last({ units[$0 - 1] == newline }) { return i }
        if let i = last({ i in
            let previous = units[i - 1]
            if [0x3002, 0xFF01, 0xFF1F, 0xFF0E].contains(previous) { return true }  // 。！？．
            return isWhitespace(units[min(i, units.count - 1)]) && [0x2E, 0x21, 0x3F, 0x2026].contains(previous)  // . ! ? …
        }) { return i }
        if let i = last({ isWhitespace(units[$0 - 1]) }) { return i }
        // No natural break: the last grapheme boundary in the window (any, however early).
        var i = limitEnd
        while i > start + 1, !boundaries.contains(i) { i -= 1 }
        if boundaries.contains(i) { return i }
        // One grapheme longer than the window (an emoji with a thousand combining marks): cut between scalars,
        // never inside a surrogate pair.
        i = limitEnd
        while i > start + 1, UTF16.isTrailSurrogate(units[i]) { i -= 1 }
        return i
    }

    static func slice(_ units: [UInt16], _ entities: [MessageEntity], _ start: Int, _ end: Int) -> FormattedText {
        let text = String(decoding: units[start..<end], as: UTF16.self)
        var carried: [MessageEntity] = []
        for entity in entities where entity.offset < end && entity.offset + entity.length > start {
            var e = entity
            let from = max(entity.offset, start)
            let to = min(entity.offset + entity.length, end)
            e.offset = from - start
            e.length = to - from
            carried.append(e)
        }
        return FormattedText(text: text, entities: carried)
    }

    static func graphemeBoundaries(_ text: String) -> Set<Int> {
        var result: Set<Int> = [0]
        var offset = 0
        for character in text {
            offset += character.utf16.count
            result.insert(offset)
        }
        return result
    }

    static func isWhitespace(_ unit: UInt16) -> Bool {
        unit == 0x20 || unit == 0x0A || unit == 0x0D || unit == 0x09 || unit == 0xA0 || unit == 0x3000
    }

    static func skipWhitespace(_ units: [UInt16], from index: Int) -> Int {
        var i = index
        while i < units.count, isWhitespace(units[i]) { i += 1 }
        return i
    }
}
