import Foundation
import Testing

@testable import Core

/// How units become Bot API calls, before anything is sent.
@Suite struct TelegramPlanTests {
    func unit(_ items: [(String, [MediaDescriptor], LinkPreview?)]) -> PublicationUnit {
        PublicationUnit(routeID: 1, targetLanguage: LanguageCode("en")!, items: items.enumerated().map { index, item in
            .init(postID: Int64(index + 1),
                  source: SourcePost(chatID: -100, messageID: Int64(index + 1), date: Date(), content: FormattedText(text: item.0), media: item.1,
                                     albumID: items.count > 1 ? "1" : nil, linkPreview: item.2),
                  content: FormattedText(text: item.0))
        })
    }

    @Test func theSourcesChosenPreviewGoesOnTheChunkThatHoldsItsURL() {
        let url = "https://example.com/story"
        let text = String(repeating: "Первый абзац новости. ", count: 200) + "\n\nИсточник: " + url
        let plan = TelegramPlan(unit: unit([(text, [], LinkPreview(url: url, preferLargeMedia: true))]), mediaRoot: nil)
        let previews = plan.calls.map { call -> LinkPreview? in if case .text(_, let preview) = call.kind { preview } else { nil } }
        #expect(previews.count == 2)
        #expect(previews[0] == LinkPreview(isDisabled: true))
        #expect(previews[1] == LinkPreview(url: url, preferLargeMedia: true))
    }

    @Test func aPostWithoutAPreviewChoiceLeavesTelegramsDefault() {
        let plan = TelegramPlan(unit: unit([("Смотрите https://example.com", [], nil)]), mediaRoot: nil)
        #expect(plan.calls.count == 1)
        if case .text(_, let preview) = plan.calls[0].kind { #expect(preview == nil) } else { Issue.record("expected a text call") }
    }

    @Test func mediaOutsideTheExportFolderIsNeverUploaded() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        // A hostile export naming /etc/passwd through `..`.
        let plan = TelegramPlan(unit: unit([("подпись", [MediaDescriptor(kind: "document", path: "../../../../etc/passwd")], nil)]), mediaRoot: root)
        #expect(plan.calls.count == 1)
        if case .text(let text, _) = plan.calls[0].kind { #expect(text.text == "подпись") } else { Issue.record("expected the text alone") }
        #expect(plan.notes.contains { $0.contains("points outside the export folder") })
    }

    @Test func mediaOverTheBotAPIUploadLimitGoesAsTextWithANote() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let big = root.appendingPathComponent("big.jpg")
        FileManager.default.createFile(atPath: big.path, contents: nil)
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 11 * 1024 * 1024)
        try handle.close()
        let plan = TelegramPlan(unit: unit([("фото", [MediaDescriptor(kind: "photo", path: "big.jpg")], nil)]), mediaRoot: root)
        #expect(plan.calls.map(\.role) == ["text"])
        #expect(plan.notes == ["message 1: big.jpg is 11 MB, over the Bot API upload limit of 10 MB; its text goes alone"])
    }
}
