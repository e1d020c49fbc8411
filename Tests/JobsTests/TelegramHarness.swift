import Foundation
import TestSupport

@testable import Core
@testable import Jobs

/// A Telegram Desktop export written by a test: messages with text parts and media files that exist.
struct ExportBuilder {
    struct Part {
        var type: String
        var text: String
        var href: String? = nil
        static func plain(_ text: String) -> Part { Part(type: "plain", text: text) }
    }
    struct Message {
        var id: Int64
        var date: Int
        var parts: [Part]
        /// `photo` or a TDesktop media_type (`video_file`, …) with its file path relative to the export.
        var media: (kind: String, path: String)? = nil
    }
    var messages: [Message] = []

    /// Writes `result.json` and a small file for every media path into `dir`.
    func write(into dir: URL) throws -> URL {
        var list: [[String: Any]] = []
        for m in messages {
            var entry: [String: Any] = [
                "id": m.id, "type": "message", "date": "2025-10-09T09:00:00", "date_unixtime": String(m.date),
                "text": m.parts.map(\.text).joined(),
                "text_entities": m.parts.map { p -> [String: Any] in
                    var e: [String: Any] = ["type": p.type, "text": p.text]
                    if let href = p.href { e["href"] = href }
                    return e
                },
            ]
            if let media = m.media {
                if media.kind == "photo" {
                    entry["photo"] = media.path
                } else {
                    entry["file"] = media.path
                    entry["media_type"] = media.kind
                }
                let file = dir.appendingPathComponent(media.path)
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data("fake \(media.kind) of message \(m.id)".utf8).write(to: file)
            }
            list.append(entry)
        }
        let root: [String: Any] = ["name": "Test Source", "type": "public_channel", "id": 1_000_000_777, "messages": list]
        let url = dir.appendingPathComponent("result.json")
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        return url
    }
}

/// Returns texts unchanged, entities included: publishing can then be checked against the source itself.
struct PassThroughTranslator: Translator {
    var name: String { "passthrough" }
    func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
        TranslationOutput(content: text)
    }
}

extension Harness {
    /// A context whose default route publishes `export` into the fake's channel through the Bot API.
    func telegramContext(
        export: URL, fake: FakeBotAPI, translator: any Translator = PseudoTranslator(), postsPerMinute: Int = 100_000,
        maxInlineWait: Duration = .seconds(5), resendUncertain: Bool = false, stop: StopSignal = StopSignal(),
        deadline: ContinuousClock.Instant? = nil, strictOrder: Bool = false
    ) throws -> JobContext {
        var config = try self.config(export: export)
        config.defaultRoute.destination = .telegram(chat: fake.chat)
        config.telegram = Config.TelegramSettings(botToken: fake.token, apiURL: fake.baseURL, postsPerMinute: postsPerMinute)
        config.resendUncertain = resendUncertain
        config.strictOrder = strictOrder
        let logger = logs.logger(level: .info)
        return JobContext(
            config: config, logger: logger, store: MirrorStore(database: database), translator: translator, stop: stop,
            makeDestination: JobContext.destinationFactory(config: config, http: HTTPClient(), logger: logger, maxInlineWait: maxInlineWait, deadline: deadline))
    }
}

extension FakeBotAPI.Message {
    /// The text each entity covers, by UTF-16 offsets, with its type.
    var entityTexts: [String] {
        let text = FormattedText(text: text)
        return entities.map { e in
            let offset = (e["offset"] as! NSNumber).intValue
            let length = (e["length"] as! NSNumber).intValue
            let url = (e["url"] as? String).map { " -> " + $0 } ?? ""
            return "\(e["type"] as! String):\(text.substring(utf16: offset..<(offset + length)) ?? "<invalid>")\(url)"
        }
    }
}
