import Foundation

/// The HTML report: one self-contained file (inline CSS and SVG, no script) with volume, latency, cost and
/// translation-memory charts, and the figures behind them.
enum ReportPage {
    static func render(_ report: AnalyticsReport) -> String {
        let overall = report.overall
        // "12-03" for days, "21:00" for hours.
        let labels = overall.map { String(Format.bucket($0.start, granularity: report.granularity).suffix(5)) }
        let total = report.total()
        let integer: (Double) -> String = { String(Int($0.rounded())) }
        let charts = [
            SVGChart(title: "Volume per \(report.granularity)", kind: .bars, labels: labels, series: [
                .init(name: "fetched", color: "#8fb3d9", values: overall.map { Double($0.metrics.fetched) }),
                .init(name: "translated", color: "#4f81bd", values: overall.map { Double($0.metrics.translated) }),
                .init(name: "published", color: "#2e7d32", values: overall.map { Double($0.metrics.published) }),
                .init(name: "failed", color: "#c62828", values: overall.map { Double($0.metrics.failed) }),
            ], format: integer),
            SVGChart(title: "Latency, source post to publication", kind: .lines, labels: labels, series: [
                .init(name: "p50", color: "#4f81bd", values: overall.map(\.metrics.latencyP50)),
                .init(name: "p95", color: "#e65100", values: overall.map(\.metrics.latencyP95)),
            ], format: Format.duration, unit: Format.durationUnit(overall.compactMap(\.metrics.latencyP95).max() ?? 0)),
            SVGChart(title: "Cost per \(report.granularity) (USD)", kind: .bars, labels: labels, series: [
                .init(name: "cost", color: "#6a1b9a", values: overall.map { $0.metrics.costUSD }),
            ], format: { String(format: "$%.4f", $0) }),
            SVGChart(title: "Translation memory hit rate", kind: .lines, labels: labels, series: [
                .init(name: "hit rate", color: "#00838f", values: overall.map(\.metrics.tmHitRate)),
            ], format: Format.percent, maxValue: 1),
        ]
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>channel-mirror report \(Format.timestamp(report.since).prefix(10)) to \(Format.timestamp(report.until).prefix(10))</title>
            <style>
            body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
            h1{font-size:20px;margin:0 0 4px}.sub{color:#666;margin-bottom:16px}
            .cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
            .card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
            .card b{display:block;font-size:20px}.card span{color:#666;font-size:12px}
            .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
            figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:8px}figcaption{font-weight:600;margin-bottom:4px}
            svg{width:100%;height:auto}.tick{font-size:11px;fill:#555}.legend{font-size:12px;fill:#333}
            table{border-collapse:collapse;margin:12px 0;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
            th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}td{white-space:nowrap}td.label{white-space:normal;min-width:180px;max-width:420px;overflow-wrap:anywhere}
            </style></head><body>
            <h1>channel-mirror report</h1>
            <div class="sub">\(Format.timestamp(report.since)) to \(Format.timestamp(report.until)) · by \(report.granularity) (UTC) · \(report.routes.count) route(s)</div>
            <div class="cards">
            """
        let cards: [(String, String)] = [
            (String(total.fetched), "posts fetched"), (String(total.translated), "translated"), (String(total.published), "published"),
            (String(total.failed), "failed attempts"), (String(total.parked), "parked"),
            (total.tmHitRate.map(Format.percent) ?? "–", "TM hit rate"), (String(total.requests), "API requests"),
            (Format.usd(total.costUSD), "cost"),
            (total.latencyP50.map(Format.duration) ?? "–", "latency p50"), (total.latencyP95.map(Format.duration) ?? "–", "latency p95"),
        ]
        for (value, label) in cards { html += "<div class=\"card\"><b>\(value.escapingMarkup(quotes: false))</b><span>\(label)</span></div>" }
        html += "</div>\n<div class=\"charts\">\n"
        for chart in charts {
            html += "<figure><figcaption>\(chart.title.escapingMarkup(quotes: false))</figcaption>\(chart.render())</figure>\n"
        }
        html += "</div>\n"
        if !report.routes.isEmpty {
            html += "<h2>Routes</h2>\n" + table(header: "route", rows: report.routes.map { route in
                ("#\(route.id) \(route.source) → \(route.destination) (\(route.targetLanguage))", report.total(route: route.id))
            })
        }
        html += "<h2>By \(report.granularity)</h2>\n" + table(header: report.granularity, rows: overall.map {
            (Format.bucket($0.start, granularity: report.granularity), $0.metrics)
        } + [("total", total)])
        html += "<p class=\"sub\">Latency runs from the source post's own date to its publication. Costs use the configured price table.</p>\n</body></html>\n"
        return html
    }

    static func table(header: String, rows: [(String, Metrics)]) -> String {
        var html = "<table><tr><th>\(header.escapingMarkup(quotes: false))</th>"
        for column in ReportText.columns { html += "<th>\(column.replacingOccurrences(of: "_", with: " "))</th>" }
        html += "</tr>\n"
        for (label, metrics) in rows {
            html += "<tr><td\(header == "route" ? " class=\"label\"" : "")>\(label.escapingMarkup(quotes: false))</td>"
            for cell in ReportText.cells(metrics, human: true) { html += "<td>\(cell.escapingMarkup(quotes: false))</td>" }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }
}
