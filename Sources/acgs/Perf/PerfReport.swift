import Foundation
import GovernanceCore
import Histogram

/// One service's figures, in milliseconds and requests per second.
struct PerfServiceSummary: Sendable {
    var service: String
    var label: String
    var requests: Int
    var successes: Int
    var statusErrors: Int
    var ioErrors: Int
    var unsent: Int
    var compliantResponses: Int
    var statuses: [Int: Int]
    var seconds: Double
    var throughput: Double
    var avg, p50, p90, p99, p999, max: Double
    /// (percentile, latency ms) points for the plot.
    var curve: [(Double, Double)]
    var targetP99: Double
    /// The load generator's own CPU time per request (see `PerfPhaseResult`).
    var generatorCPUMicroseconds: Double?

    init(_ phase: PerfPhaseResult, targetP99: Double) {
        let t = phase.tally
        service = phase.service
        label = phase.label
        requests = t.responses
        successes = t.successes
        statusErrors = t.statusErrors
        ioErrors = t.ioErrors + t.unsent
        unsent = t.unsent
        compliantResponses = t.compliant
        statuses = t.statuses
        seconds = phase.seconds
        throughput = Double(t.responses) / phase.seconds
        let h = t.histogram
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        let empty = h.totalCount == 0
        avg = empty ? 0 : h.mean / 1000
        p50 = empty ? 0 : ms(h.valueAtPercentile(50))
        p90 = empty ? 0 : ms(h.valueAtPercentile(90))
        p99 = empty ? 0 : ms(h.valueAtPercentile(99))
        p999 = empty ? 0 : ms(h.valueAtPercentile(99.9))
        max = empty ? 0 : ms(h.max)
        curve = empty ? [] : PerfPlot.percentiles.map { ($0, ms(h.valueAtPercentile($0))) }
        self.targetP99 = targetP99
        generatorCPUMicroseconds = phase.generatorCPUMicrosecondsPerRequest
    }

    var errors: Int { statusErrors + ioErrors }
    var attempts: Int { requests + ioErrors }
    var successRate: Double { attempts == 0 ? 0 : Double(successes) / Double(attempts) }
    /// Every response carried the right constitutional hash.
    var compliant: Bool { requests > 0 && compliantResponses == requests }
    var targetMet: Bool { requests > 0 && errors == 0 && compliant && p99 <= targetP99 }

    var json: JSONValue {
        [
            "service_name": .string(service), "endpoint": .string(label),
            "requests": .number(Double(requests)), "errors": .number(Double(errors)),
            "status_errors": .number(Double(statusErrors)), "connection_errors": .number(Double(ioErrors - unsent)), "unsent": .number(Double(unsent)),
            "avg_latency_ms": .number(round3(avg)), "p50_latency_ms": .number(round3(p50)), "p90_latency_ms": .number(round3(p90)),
            "p99_latency_ms": .number(round3(p99)), "p99_9_latency_ms": .number(round3(p999)), "max_latency_ms": .number(round3(max)),
            "throughput_rps": .number(round3(throughput)), "duration_seconds": .number(round3(seconds)),
            "success_rate": .number(round3(successRate)), "constitutional_compliance": .bool(compliant),
            "compliant_responses": .number(Double(compliantResponses)), "target_met": .bool(targetMet),
            "status_counts": .object(Dictionary(uniqueKeysWithValues: statuses.map { (String($0.key), JSONValue.number(Double($0.value))) })),
            "load_generator_cpu_us_per_request": generatorCPUMicroseconds.map { .number($0.rounded()) } ?? .null,
        ]
    }
}

func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

/// The whole run: what the table, the JSON and the HTML report show.
struct PerfSummary: Sendable {
    var timestamp: Date
    var hash: String
    var mode: String
    var services: [PerfServiceSummary]
    var targetP99: Double
    var targetThroughput: Double

    var totalThroughput: Double { services.reduce(0) { $0 + $1.throughput } }
    var throughputMet: Bool { totalThroughput >= targetThroughput }
    var allTargetsMet: Bool { !services.isEmpty && throughputMet && services.allSatisfy(\.targetMet) }

    var json: JSONValue {
        let results = JSONValue.array(services.map(\.json))
        return [
            "timestamp": .string(timestamp.formatted(.iso8601)),
            "constitutional_hash": .string(hash),
            "mode": .string(mode),
            "services_tested": .number(Double(services.count)),
            "services_passed": .number(Double(services.filter(\.targetMet).count)),
            "constitutional_compliant": .number(Double(services.filter(\.compliant).count)),
            "all_targets_met": .bool(allTargetsMet),
            "targets": ["p99_latency_ms": .number(targetP99), "throughput_rps": .number(targetThroughput)],
            "throughput_result": [
                "total_throughput": .number(round3(totalThroughput)), "target_met": .bool(throughputMet),
                "service_results": .object(Dictionary(uniqueKeysWithValues: services.map { ($0.service, JSONValue.number(round3($0.throughput))) })),
            ],
            "service_results": results,
        ]
    }

    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(json), as: UTF8.self)) ?? CanonicalJSON.encode(json)
    }

    static let columns = ["service", "req/s", "avg", "p50", "p90", "p99", "p99.9", "max", "success", "errors", "hash", "target"]
    static let widths = [19, 10, 9, 9, 9, 9, 9, 9, 9, 8, 6, 6]

    var rows: [[String]] {
        services.map { s in
            [
                s.service, String(format: "%.0f", s.throughput), ms(s.avg), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.p999), ms(s.max),
                String(format: "%.2f%%", s.successRate * 100), "\(s.errors)", s.compliant ? "ok" : "BAD", s.targetMet ? "met" : "MISS",
            ]
        }
    }

    var table: String {
        var out = "\(mode); latencies in ms; constitutional hash \(hash)\n"
        out += zip(Self.columns, Self.widths).map { pad($0, $1) }.joined() + "\n"
        for row in rows { out += zip(row, Self.widths).map { pad($0, $1) }.joined() + "\n" }
        out += String(
            format: "total %.0f req/s (target >= %.0f: %@); P99 target <= %.2f ms; %d of %d services passed, %d compliant; all targets %@\n",
            totalThroughput, targetThroughput, throughputMet ? "met" : "NOT met", targetP99, services.filter(\.targetMet).count, services.count,
            services.filter(\.compliant).count, allTargetsMet ? "met" : "NOT met")
        if let line = generatorLine { out += line + "\n" }
        return out
    }

    /// What the load generator itself spent: on a machine it shares with the server, its CPU is
    /// taken from the server's, which an open-loop latency then includes.
    var generatorLine: String? {
        let figures = services.compactMap { s in
            s.generatorCPUMicroseconds.map { String(format: "%@ %.0f µs (%.2f of a core)", s.service, $0, $0 * s.throughput / 1e6) }
        }
        return figures.isEmpty ? nil : "load generator CPU per request: " + figures.joined(separator: ", ")
    }

    var html: String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var body = "<h1>acgs perf</h1>\n<p>\(esc(timestamp.formatted(.iso8601))) &middot; \(esc(mode)) &middot; constitutional hash <code>\(esc(hash))</code> &middot; all targets <b>\(allTargetsMet ? "met" : "NOT met")</b></p>\n"
        body += "<table>\n<tr>" + Self.columns.map { "<th>\(esc($0))</th>" }.joined() + "</tr>\n"
        for row in rows { body += "<tr>" + row.map { "<td>\(esc($0))</td>" }.joined() + "</tr>\n" }
        body += "</table>\n"
        body += String(format: "<p>total %.0f req/s (target &ge; %.0f: %@)</p>\n", totalThroughput, targetThroughput, throughputMet ? "met" : "NOT met")
        if let line = generatorLine { body += "<p>\(esc(line))</p>\n" }
        for s in services {
            body += "<h2>\(esc(s.service)) &middot; \(esc(s.label))</h2>\n" + PerfPlot.svg(s.curve, targetP99: s.targetP99) + "\n"
        }
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>acgs perf</title>
            <style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{background:#fafafa;border:1px solid #ddd}</style>
            </head><body>
            \(body)</body></html>

            """
    }
}

private func ms(_ value: Double) -> String { String(format: "%.3f", value) }

/// The latency-by-percentile plot: x is the percentile on a log scale of 1/(1 - p), 0 to 99.99.
enum PerfPlot {
    static let percentiles: [Double] = {
        var out: [Double] = []
        var x = 0.0
        while x <= 4.0001 {
            out.append(Swift.min(99.99, (1 - pow(10, -x)) * 100))
            x += 0.05
        }
        return out
    }()

    static func x(_ percentile: Double) -> Double { -log10(Swift.max(1e-4, 1 - percentile / 100)) }

    static func svg(_ curve: [(Double, Double)], targetP99: Double) -> String {
        let width = 640.0, height = 320.0, left = 60.0, bottom = 40.0, top = 15.0, right = 20.0
        let plotW = width - left - right, plotH = height - top - bottom
        let yMax = Swift.max(targetP99, curve.map(\.1).max() ?? 1) * 1.1
        func px(_ p: Double) -> Double { left + x(p) / 4 * plotW }
        func py(_ v: Double) -> Double { top + plotH - v / yMax * plotH }
        var out = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">", width, height, width, height)
        out += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", left, top + plotH, left + plotW, top + plotH)
        out += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", left, top, left, top + plotH)
        for (p, label) in [(0.0, "0"), (90.0, "90"), (99.0, "99"), (99.9, "99.9"), (99.99, "99.99")] {
            out += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", px(p), top, px(p), top + plotH)
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%@</text>", px(p), top + plotH + 15, label)
        }
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.2f</text>", left - 5, py(v) + 4, v)
        }
        out += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">percentile</text>", left + plotW / 2, height - 5)
        out += String(format: "<text x=\"12\" y=\"%.1f\" font-size=\"12\" transform=\"rotate(-90 12 %.1f)\" text-anchor=\"middle\">latency (ms)</text>", top + plotH / 2, top + plotH / 2)
        out += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/>", left, py(targetP99), left + plotW, py(targetP99))
        let points = curve.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
        out += "<polyline fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"2\" points=\"\(points)\"/>"
        return out + "</svg>"
    }
}
