import Foundation

// One libFuzzer entry point per parser of untrusted input, chosen at build time (scripts/fuzz.sh builds each
// with -D FUZZ_<NAME>). A parser may reject its input with an error; it must never crash, hang or produce
// entities that do not fit the text.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    #if FUZZ_EXPORT
    if let batch = try? TelegramDesktopExport.parse(data) {
        for post in batch.posts { check(post.content) }
    }
    #elseif FUZZ_BOTAPI
    if let batch = try? BotAPIUpdates.parse(data) {
        for item in batch.posts { check(item.post.content) }
    }
    #elseif FUZZ_WEBPREVIEW
    if let page = try? WebPreviewPage.parse(html: String(decoding: data, as: UTF8.self), channel: "durov") {
        for post in page.posts { check(post.content) }
        _ = page.missingIDs(after: 0)
    }
    #elseif FUZZ_MARKUP
    // Model output against a template of the entities the source had.
    let template = [MessageEntity(type: "bold", offset: 0, length: 1), MessageEntity(type: "text_link", offset: 1, length: 1, url: "https://x.y"),
                    MessageEntity(type: "code", offset: 2, length: 1)]
    if let decoded = try? EntityMarkup.decode(String(decoding: data, as: UTF8.self), template: template) { check(decoded) }
    // The whole answer path: blocks, placeholders (the code entity), every check.
    let source = FormattedText(text: "abc", entities: template)
    let prompt = TranslationPrompt(items: [TranslationItem(postID: 1, content: source)], language: LanguageCode("en")!,
                                   rules: TranslationRules(), glossary: Glossary([Glossary.Term(source: "a", target: "b")]))
    if let blocks = try? TranslationAnswer.blocks(String(decoding: data, as: UTF8.self), expecting: [1]), let markup = blocks[1],
        let decoded = try? TranslationAnswer.validate(markup, post: prompt.posts[0], rules: TranslationRules()) {
        check(decoded)
    }
    #endif
    return 0
}

/// Entities a parser returns must lie inside the text: a violation is a bug, so it aborts (a crash the fuzzer reports).
func check(_ text: FormattedText) {
    let length = text.text.utf16.count
    for entity in text.entities where entity.offset < 0 || entity.length < 0 || entity.offset + entity.length > length {
        fatalError("entity \(entity.type) \(entity.offset)+\(entity.length) outside a text of \(length) units")
    }
    // Splitting what was parsed must hold Telegram's limits too.
    for chunk in TextSplitter.split(text, firstLimit: 64, limit: 256, maxEntities: 8) where chunk.text.utf16.count > 256 || chunk.entities.count > 8 {
        fatalError("chunk of \(chunk.text.utf16.count) units with \(chunk.entities.count) entities")
    }
}
