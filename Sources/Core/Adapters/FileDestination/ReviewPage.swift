import Foundation

/// The static side-by-side review page: source on the left, what was published on the right, with
/// formatting rendered from the entities.
enum ReviewPage {
    static func render(_ records: [PublicationRecord]) -> String {
        var rows = ""
        let formatter = ISO8601DateFormatter()
        for record in records {
            let first = record.items.first
            let date = first.map { formatter.string(from: $0.date) } ?? ""
            let ids = record.items.map { String($0.sourceMessageID) }.joined(separator: ", ")
            var sourceCell = ""
            var publishedCell = ""
            for item in record.items {
                let media = item.media.map(mediaLabel).joined()
                sourceCell += media + "<div class=\"t\">\(html(item.source))</div>"
                publishedCell += media + "<div class=\"t\">\(html(item.published))</div>"
            }
            let album = record.items.count > 1 ? " <span class=\"album\">album of \(record.items.count)</span>" : ""
            rows += """
                <tr><td class="meta">#\(escape(ids))<br>\(escape(date))\(album)</td>\
                <td>\(sourceCell)</td><td>\(publishedCell)</td></tr>

                """
        }
        let language = records.first?.targetLanguage ?? ""
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>Mirror review (\(escape(language)))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
            table{border-collapse:collapse;width:100%;table-layout:fixed}
            td,th{border-bottom:1px solid #ddd;padding:.5rem;vertical-align:top}
            td.meta{width:9rem;color:#666;font-size:.8rem}
            .t{white-space:pre-wrap;word-wrap:break-word}
            .media{display:inline-block;background:#eef;border-radius:4px;padding:0 .3rem;margin:.1rem 0;font-size:.8rem}
            .album{color:#a60}
            .spoiler{background:#ccc;color:#ccc}.spoiler:hover{color:#222}
            blockquote{border-left:3px solid #99c;margin:0;padding-left:.5rem}
            </style></head><body>
            <h1>Mirror review</h1><p>\(records.count) publications (\(records.reduce(0) { $0 + $1.items.count }) posts), target language \(escape(language))</p>
            <table><tr><th>Post</th><th>Source</th><th>Published</th></tr>
            \(rows)</table></body></html>

            """
    }

    static func mediaLabel(_ media: MediaDescriptor) -> String {
        let name = media.fileName ?? media.path ?? media.summary ?? ""
        return "<span class=\"media\">\(escape(media.kind))\(name.isEmpty ? "" : ": " + escape(name))</span> "
    }

    /// Renders entities as HTML. The text is cut at every entity boundary and each segment gets the tags of
    /// the entities covering it, so overlapping entities still produce well-formed HTML. One sweep over the
    /// boundaries keeps this linear in practice even for posts with thousands of entities.
    static func html(_ content: FormattedText) -> String {
        let units = Array(content.text.utf16)
        let entities = content.entities.filter { $0.length > 0 && $0.offset >= 0 && $0.offset + $0.length <= units.count }
        var cuts = Set([0, units.count])
        for e in entities {
            cuts.insert(e.offset)
            cuts.insert(e.offset + e.length)
        }
        let points = cuts.sorted()
        let byStart = Dictionary(grouping: entities, by: \.offset)
        var active: [MessageEntity] = []
        var out = ""
        for (start, end) in zip(points, points.dropFirst()) {
            active.removeAll { $0.offset + $0.length <= start }
            active += byStart[start] ?? []
            var segment = escape(String(decoding: units[start..<end], as: UTF16.self))
            for e in active {
                let (open, close) = tags(e)
                segment = open + segment + close
            }
            out += segment
        }
        return out
    }

    static func tags(_ e: MessageEntity) -> (String, String) {
        switch e.type {
        case "bold": ("<b>", "</b>")
        case "italic": ("<i>", "</i>")
        case "underline": ("<u>", "</u>")
        case "strikethrough": ("<s>", "</s>")
        case "spoiler": ("<span class=\"spoiler\">", "</span>")
        case "code": ("<code>", "</code>")
        case "pre": ("<pre>", "</pre>")
        case "blockquote", "expandable_blockquote": ("<blockquote>", "</blockquote>")
        case "text_link":
            if let url = e.url, url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("tg://") {
                ("<a href=\"\(escape(url))\">", "</a>")
            } else {
                ("<u>", "</u>")
            }
        case "url", "mention", "hashtag", "cashtag", "email", "bot_command": ("<span style=\"color:#06c\">", "</span>")
        default: ("", "")
        }
    }

    static func escape(_ text: String) -> String { text.escapingMarkup(quotes: true) }
}
