/// The offline default: marks the text as "translated" without changing its words.
///
/// Output is `[→en] ` followed by the source text, with every entity shifted by the marker's UTF-16 length,
/// so a dry run shows what would be published and exercises the whole pipeline without an API key.
public struct PseudoTranslator: Translator {
    public init() {}

    public var name: String { "pseudo" }

    public func translate(_ text: FormattedText, to language: LanguageCode) async throws -> TranslationOutput {
        TranslationOutput(content: text.prepending("[→\(language)] "))
    }
}
