import Foundation

/// US dollars per million tokens of each kind, to turn a response's `usage` into a cost.
///
/// Prices change; the defaults are a snapshot (Anthropic's pricing page, October 2026) and
/// `CLAUDE_PRICE_PER_MTOK` overrides them, e.g. `input=0.10,output=0.50,cache_write=0.125,cache_read=0.01`.
public struct ModelPricing: Sendable, Hashable {
    public var input: Double
    public var output: Double
    public var cacheWrite: Double
    public var cacheRead: Double

    public init(input: Double, output: Double, cacheWrite: Double, cacheRead: Double) {
        self.input = input
        self.output = output
        self.cacheWrite = cacheWrite
        self.cacheRead = cacheRead
    }

    /// Standard (non-batch) prices for prompts up to 100k tokens, with 5-minute cache writes.
    public static let defaults: [String: ModelPricing] = [
        "claude-haiku-5-5": ModelPricing(input: 0.10, output: 0.50, cacheWrite: 0.125, cacheRead: 0.01),
        "claude-sonnet-5-5": ModelPricing(input: 2, output: 10, cacheWrite: 2.50, cacheRead: 0.20),
        "claude-sonnet-5": ModelPricing(input: 2, output: 10, cacheWrite: 2.50, cacheRead: 0.20),
    ]

    public func cost(of usage: TokenUsage) -> Double {
        (Double(usage.inputTokens) * input + Double(usage.outputTokens) * output
            + Double(usage.cacheWriteTokens) * cacheWrite + Double(usage.cacheReadTokens) * cacheRead) / 1_000_000
    }

    /// Parses `input=…,output=…,cache_write=…,cache_read=…` (all four required).
    public init?(parsing text: String) {
        var values: [String: Double] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let value = Double(pair[1]), value >= 0, value.isFinite else { return nil }
            values[pair[0]] = value
        }
        guard values.count == 4, let input = values["input"], let output = values["output"],
              let cacheWrite = values["cache_write"], let cacheRead = values["cache_read"] else { return nil }
        self.init(input: input, output: output, cacheWrite: cacheWrite, cacheRead: cacheRead)
    }
}
