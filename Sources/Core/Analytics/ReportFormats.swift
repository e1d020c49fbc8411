import Foundation

/// Text renderings of an ``AnalyticsReport``: `table` for people, `csv` and `json` for machines.
public enum ReportFormat: String, CaseIterable, Sendable {
    case table, json, csv, html

    public func render(_ report: AnalyticsReport) throws -> String {
        switch self {
        case .table: ReportText.table(report)
        case .csv: ReportText.csv(report)
        case .json: try ReportText.json(report)
        case .html: ReportPage.render(report)
        }
    }
}

enum ReportText {
    static let columns = ["fetched", "translated", "published", "failed", "parked", "tm_hit_rate", "requests",
                          "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "cost_usd",
                          "latency_p50", "latency_p95", "latency_max"]

    static func cells(_ m: Metrics, human: Bool) -> [String] {
        let latency: (Double?) -> String = { value in
            guard let value else { return human ? "-" : "" }
            return human ? Format.duration(value) : String(format: "%.3f", value)
        }
        return [String(m.fetched), String(m.translated), String(m.published), String(m.failed), String(m.parked),
                m.tmHitRate.map { human ? Format.percent($0) : String(format: "%.4f", $0) } ?? (human ? "-" : ""),
                String(m.requests), String(m.inputTokens), String(m.outputTokens), String(m.cacheWriteTokens), String(m.cacheReadTokens),
                String(format: human ? "%.4f" : "%.6f", m.costUSD), latency(m.latencyP50), latency(m.latencyP95), latency(m.latencyMax)]
    }

    static func table(_ report: AnalyticsReport) -> String {
        let label = report.granularity == "hour" ? "hour (UTC)" : "day (UTC)"
        var rows: [[String]] = [[label] + columns.map { $0.replacingOccurrences(of: "_tokens", with: "").replacingOccurrences(of: "latency_", with: "") }]
        for bucket in report.overall {
            rows.append([Format.bucket(bucket.start, granularity: report.granularity)] + cells(bucket.metrics, human: true))
        }
        rows.append(["total"] + cells(report.total(), human: true))
        var text = "channel-mirror report, \(Format.timestamp(report.since)) to \(Format.timestamp(report.until)), all routes\n\n"
        text += aligned(rows)
        if !report.routes.isEmpty {
            text += "\nby route:\n\n"
            var routeRows: [[String]] = [["route"] + columns.map { $0.replacingOccurrences(of: "_tokens", with: "").replacingOccurrences(of: "latency_", with: "") }]
            for route in report.routes {
                routeRows.append(["#\(route.id) \(route.targetLanguage)"] + cells(report.total(route: route.id), human: true))
            }
            text += aligned(routeRows)
            for route in report.routes { text += "  #\(route.id): \(route.source) -> \(route.destination) (\(route.targetLanguage))\n" }
        }
        text += "\nlatency: source post's date to publication. tm_hit_rate: share of translations served by the translation memory.\n"
        return text
    }

    static func aligned(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows.map(\.count).max() ?? 0)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[i] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    static func csv(_ report: AnalyticsReport) -> String {
        var lines = [(["bucket_start", "route_id"] + columns.map { $0.hasPrefix("latency_") ? $0 + "_s" : $0 }).joined(separator: ",")]
        for bucket in report.buckets {
            lines.append(([Format.timestamp(bucket.start), String(bucket.routeID)] + cells(bucket.metrics, human: false)).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ report: AnalyticsReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }
}

/// Human forms of durations, money and times used by `status` and `report`.
public enum Format {
    public static func duration(_ seconds: Double) -> String {
        switch seconds {
        case ..<60: String(format: "%.1fs", seconds)
        case ..<3600: String(format: "%.1fm", seconds / 60)
        case ..<172_800: String(format: "%.1fh", seconds / 3600)
        default: String(format: "%.1fd", seconds / 86400)
        }
    }

    /// The unit ``duration(_:)`` shows `seconds` in, as a number of seconds.
    public static func durationUnit(_ seconds: Double) -> Double {
        switch seconds {
        case ..<60: 1
        case ..<3600: 60
        case ..<172_800: 3600
        default: 86400
        }
    }

    public static func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }

    public static func usd(_ value: Double) -> String { String(format: "$%.4f", value) }

    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    static func bucket(_ date: Date, granularity: String) -> String {
        let text = timestamp(date)
        return granularity == "hour" ? String(text.prefix(13)) + ":00" : String(text.prefix(10))
    }
}
