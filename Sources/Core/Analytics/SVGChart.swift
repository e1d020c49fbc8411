import Foundation

/// A small inline SVG chart (grouped bars or lines over the report's buckets), so the HTML report needs
/// no script, font or network to open in any browser.
struct SVGChart {
    enum Kind { case bars, lines }

    struct Series {
        var name: String
        var color: String
        /// One value per label; `nil` draws nothing for that bucket.
        var values: [Double?]
    }

    var title: String
    var kind: Kind
    var labels: [String]
    var series: [Series]
    /// Formats axis ticks and tooltips.
    var format: (Double) -> String
    /// Fixed top of the scale (e.g. 1 for a rate); otherwise the largest value rounded up.
    var maxValue: Double?
    /// The unit ticks are round in (86,400 for durations shown in days), so the scale tops at e.g. 1000d.
    var unit: Double = 1

    let width = 760.0
    let height = 240.0
    let left = 72.0
    let right = 16.0
    let top = 16.0
    let bottom = 44.0

    func render() -> String {
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let largest = series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
        let scaleMax = maxValue ?? Self.niceCeiling(largest / unit) * unit
        let y: (Double) -> Double = { top + plotHeight - (scaleMax > 0 ? $0 / scaleMax : 0) * plotHeight }
        let slot = plotWidth / Double(max(labels.count, 1))

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(title.escapingMarkup(quotes: true))">
            """
        for tick in 0...4 {
            let value = scaleMax * Double(tick) / 4
            let ty = y(value)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(width - right))\" y2=\"\(f(ty))\" stroke=\"#e3e3e3\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(ty + 4))\" text-anchor=\"end\" class=\"tick\">\(format(value).escapingMarkup(quotes: false))</text>"
        }
        let labelEvery = max(1, labels.count / 10)
        for (i, label) in labels.enumerated() where i % labelEvery == 0 {
            svg += "<text x=\"\(f(left + slot * (Double(i) + 0.5)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\" class=\"tick\">\(label.escapingMarkup(quotes: false))</text>"
        }
        switch kind {
        case .bars:
            let barWidth = slot * 0.8 / Double(max(series.count, 1))
            for (s, serie) in series.enumerated() {
                for (i, value) in serie.values.enumerated() {
                    guard let value, value > 0 else { continue }
                    let x = left + slot * Double(i) + slot * 0.1 + barWidth * Double(s)
                    svg += "<rect x=\"\(f(x))\" y=\"\(f(y(value)))\" width=\"\(f(max(barWidth, 1)))\" height=\"\(f(top + plotHeight - y(value)))\" fill=\"\(serie.color)\"><title>\(serie.name) \(labels[i]): \(format(value))</title></rect>"
                }
            }
        case .lines:
            for serie in series {
                let points = serie.values.enumerated().compactMap { i, value in value.map { (left + slot * (Double(i) + 0.5), y($0), $0, i) } }
                if points.count > 1 {
                    svg += "<polyline fill=\"none\" stroke=\"\(serie.color)\" stroke-width=\"2\" points=\"\(points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>"
                }
                for point in points {
                    svg += "<circle cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"3.5\" fill=\"\(serie.color)\"><title>\(serie.name) \(labels[point.3]): \(format(point.2))</title></circle>"
                }
            }
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(width - right))\" y2=\"\(f(top + plotHeight))\" stroke=\"#888\"/>"
        var legendX = left
        for serie in series {
            svg += "<rect x=\"\(f(legendX))\" y=\"\(f(height - 16))\" width=\"10\" height=\"10\" fill=\"\(serie.color)\"/>"
            svg += "<text x=\"\(f(legendX + 14))\" y=\"\(f(height - 7))\" class=\"legend\">\(serie.name.escapingMarkup(quotes: false))</text>"
            legendX += 24 + Double(serie.name.count) * 7
        }
        return svg + "</svg>"
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// 1, 2 or 5 times a power of ten at or above `value`, so ticks are round numbers.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }
}
