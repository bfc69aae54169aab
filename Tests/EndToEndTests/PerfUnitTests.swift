import Foundation
import GovernanceCore
import NIOCore
import Testing

@testable import acgs

/// The pure parts of `acgs perf`: the open-loop schedule, the summary and its JSON, the plot.
@Suite struct PerfUnitTests {
    @Test func theOpenLoopScheduleIsEvenlySpacedAcrossConnections() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let plan = PerfPlan(
            start: start, warmupEnd: start, end: start + .seconds(1), requestLimit: nil, interval: .milliseconds(2), connections: 4)
        var slots: [Int64] = []
        for k in 0..<5 {
            for c in 0..<4 { slots.append((plan.scheduled(connection: c, sequence: k)! - start).nanoseconds) }
        }
        #expect(slots.sorted() == (0..<20).map { Int64($0) * 2_000_000 })
        let closed = PerfPlan(start: start, warmupEnd: start, end: start, requestLimit: 10, interval: nil, connections: 4)
        #expect(closed.scheduled(connection: 0, sequence: 0) == nil)
    }

    func phase(_ service: String, micros: [UInt64], statuses: [Int] = [], compliant: Int? = nil, seconds: Double = 2) -> PerfPhaseResult {
        var tally = PerfTally()
        for m in micros { _ = tally.histogram.record(m) }
        let codes = statuses.isEmpty ? Array(repeating: 200, count: micros.count) : statuses
        tally.responses = codes.count
        tally.successes = codes.filter { (200..<300).contains($0) }.count
        tally.statusErrors = codes.count - tally.successes
        for code in codes { tally.statuses[code, default: 0] += 1 }
        tally.compliant = compliant ?? codes.count
        return PerfPhaseResult(service: service, label: "POST /x", tally: tally, seconds: seconds, interrupted: false)
    }

    @Test func percentilesAndTargets() {
        // 1..1000 ms in 1 ms steps.
        let fast = PerfServiceSummary(phase("auth", micros: (1...1000).map { UInt64($0) * 1000 }), targetP99: 995)
        #expect(abs(fast.p50 - 500) < 1)
        #expect(abs(fast.p90 - 900) < 1)
        #expect(abs(fast.p99 - 990) < 1)
        #expect(abs(fast.max - 1000) < 1)
        #expect(abs(fast.avg - 500.5) < 1)
        #expect(fast.throughput == 500)
        #expect(fast.targetMet && fast.compliant && fast.successRate == 1)
        #expect(!PerfServiceSummary(phase("auth", micros: (1...1000).map { UInt64($0) * 1000 }), targetP99: 900).targetMet)
        let failing = PerfServiceSummary(phase("auth", micros: [1000, 1000], statuses: [200, 503]), targetP99: 100)
        #expect(failing.successRate == 0.5 && failing.errors == 1 && !failing.targetMet)
        let wrongHash = PerfServiceSummary(phase("auth", micros: [1000, 1000], compliant: 1), targetP99: 100)
        #expect(!wrongHash.compliant && !wrongHash.targetMet)
    }

    @Test func theLoadGeneratorsOwnCPUIsReportedPerRequestAndAsAShareOfACore() throws {
        var measured = phase("auth", micros: (1...1000).map { UInt64($0) * 1000 })  // 500 req/s
        measured.generatorCPUMicrosecondsPerRequest = 80
        let summary = PerfSummary(
            timestamp: Date(), hash: "cdd01ef066bc6cf2", mode: "test", services: [PerfServiceSummary(measured, targetP99: 5)], targetP99: 5,
            targetThroughput: 1)
        #expect(summary.table.contains("load generator CPU per request: auth 80 µs (0.04 of a core)"))
        #expect(summary.html.contains("<p>load generator CPU per request: auth 80 µs (0.04 of a core)</p>"))
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(summary.jsonText.utf8))
        #expect(json["service_results"][0]["load_generator_cpu_us_per_request"] == 80)
        // Not measured (no request was sent): no line, and null rather than a made-up zero.
        let unmeasured = PerfSummary(
            timestamp: Date(), hash: "cdd01ef066bc6cf2", mode: "test", services: [PerfServiceSummary(phase("auth", micros: [1000]), targetP99: 5)],
            targetP99: 5, targetThroughput: 1)
        #expect(!unmeasured.table.contains("load generator"))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(unmeasured.jsonText.utf8))["service_results"][0]["load_generator_cpu_us_per_request"] == .null)
    }

    @Test func theJSONHasTheGuidesFields() throws {
        let summary = PerfSummary(
            timestamp: Date(), hash: "cdd01ef066bc6cf2", mode: "test",
            services: [
                PerfServiceSummary(phase("constitutional-ai", micros: [1000, 2000]), targetP99: 5),
                PerfServiceSummary(phase("auth", micros: [1000, 9000]), targetP99: 5),
            ], targetP99: 5, targetThroughput: 1)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(summary.jsonText.utf8))
        for field in ["timestamp", "constitutional_hash", "services_tested", "services_passed", "constitutional_compliant", "all_targets_met"] {
            #expect(json[field] != .null, "missing \(field)")
        }
        #expect(json["services_tested"] == 2)
        #expect(json["services_passed"] == 1)
        #expect(json["constitutional_compliant"] == 2)
        #expect(json["all_targets_met"] == false)
        #expect(json["throughput_result"]["total_throughput"] == 2)
        #expect(json["throughput_result"]["target_met"] == true)
        #expect(json["service_results"][1]["service_name"] == "auth")
        #expect(json["service_results"][1]["target_met"] == false)
        #expect(summary.html.components(separatedBy: "<svg").count == 3)
    }

    @Test func thePlotSpansPercentilesZeroTo99_99OnALogScale() {
        #expect(PerfPlot.percentiles.first == 0)
        #expect(abs((PerfPlot.percentiles.last ?? 0) - 99.99) < 1e-9)
        #expect(abs(PerfPlot.x(99) - 2) < 1e-9 && abs(PerfPlot.x(99.9) - 3) < 1e-9)
        let svg = PerfPlot.svg([(0, 1), (99.99, 2)], targetP99: 5)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>") && svg.contains("<polyline"))
    }
}

/// How `acgs bench` judges an endpoint: against the bare run just before it, on the median of the
/// rounds.
@Suite struct BenchVerdictTests {
    static func run(_ rate: Double, p99Milliseconds: Double) -> Wrk {
        Wrk(requestsPerSecond: rate, p50: 0.001, p90: 0.002, p99: p99Milliseconds / 1000, errors: 0)
    }

    @Test func eachRoundIsComparedWithItsOwnBareRunAndTheMedianDecides() {
        // The machine was twice as fast in the second round: so were both endpoints.
        let pairs = [
            (bare: Self.run(10_000, p99Milliseconds: 10), endpoint: Self.run(7_000, p99Milliseconds: 14)),
            (bare: Self.run(20_000, p99Milliseconds: 5), endpoint: Self.run(14_000, p99Milliseconds: 7)),
            (bare: Self.run(10_000, p99Milliseconds: 10), endpoint: Self.run(4_000, p99Milliseconds: 30)),
        ]
        let verdict = Bench.verdict("validate", pairs, minimumThroughput: .ofBare(0.5))
        #expect(verdict.contains("throughput 0.70 of bare (0.70, 0.70, 0.40; target >= 0.50: met)"))
        #expect(verdict.contains("P99 1.400 of bare (1.400, 1.400, 3.000; target <= 1.50: met)"))
        // Judged against the first round's bare run, the second round's 14,000 req/s would have
        // been 1.40 of bare. And one bad round does not decide, either way; two of three do.
        let badTwice = Bench.verdict("validate", [pairs[0], pairs[2], pairs[2]], minimumThroughput: .ofBare(0.5))
        #expect(badTwice.contains("target >= 0.50: NOT met"))
        #expect(badTwice.contains("target <= 1.50: NOT met"))
    }

    @Test func theFastLaneIsJudgedOnItsOwnRate() {
        let pairs = [(bare: Self.run(16_000, p99Milliseconds: 10), endpoint: Self.run(7_500, p99Milliseconds: 22))]
        let verdict = Bench.verdict("reviews", pairs, minimumThroughput: .absolute(5_000))
        #expect(verdict.contains("7500 req/s (7500; target >= 5000: met)"))
        #expect(verdict.contains("P99 2.200 of bare (2.200; target <= 1.50: NOT met)"))
    }

    @Test func aRatioJustOverTheTargetDoesNotPrintAsTheTarget() {
        let pairs = [(bare: Self.run(10_000, p99Milliseconds: 10), endpoint: Self.run(7_000, p99Milliseconds: 15.03))]
        let verdict = Bench.verdict("validate", pairs, minimumThroughput: .ofBare(0.5))
        #expect(verdict.contains("P99 1.503 of bare (1.503; target <= 1.50: NOT met)"), "\(verdict)")
    }

    @Test func perInputRowsNameTheActionOrTheStartOfTheContent() {
        #expect(Bench.label(JudgedInput(action: ["type": "shell", "tool": "bash"])) == "shell/bash")
        #expect(Bench.label(JudgedInput(action: ["type": "deploy"])) == "deploy")
        #expect(Bench.label(JudgedInput(content: "Please summarise the attached quarterly report")) == "Please summarise the attache")
    }

    @Test func anyErrorResponseVoidsTheFigures() {
        // An endpoint that answers 401 or 503 quickly would otherwise look fast.
        var failing = Self.run(20_000, p99Milliseconds: 5)
        failing.errors = 12
        let pairs = [(bare: Self.run(10_000, p99Milliseconds: 10), endpoint: failing)]
        let verdict = Bench.verdict("validate", pairs, minimumThroughput: .ofBare(0.5))
        #expect(verdict.hasPrefix("  validate: NOT met, 12 non-2xx responses"))
        #expect(verdict.contains("(figures void: validate: throughput 2.00 of bare"))
    }

    @Test func theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        #expect(Bench.median([3, 1, 2]) == 2)
        #expect(Bench.median([4, 1, 3, 2]) == 2.5)
        #expect(Bench.median([]).isNaN)
    }
}

/// The load generator's own HTTP: requests encoded once, responses read in place.
@Suite struct PerfHTTPTests {
    static func parse(_ chunks: [String]) throws -> [PerfResponse] {
        var parser = PerfResponseParser()
        var responses: [PerfResponse] = []
        for chunk in chunks {
            var bytes = ByteBuffer(string: chunk)
            parser.append(&bytes)
            while let response = try parser.next() { responses.append(response) }
        }
        return responses
    }

    @Test func aRequestIsWrittenOnceWithItsHostAndLength() throws {
        let endpoint = try PerfEndpoint("http://127.0.0.1:8016/prefix/")
        let request = PerfWorkload.request(.POST, endpoint, "/api/v1/auth/validate", json: ["token": "t"], bearer: "k", hash: "h")
        #expect(
            String(buffer: request.wire)
                == "POST /prefix/api/v1/auth/validate HTTP/1.1\r\nHost: 127.0.0.1:8016\r\nX-Constitutional-Hash: h\r\n"
                + "Authorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"token\":\"t\"}")
        let get = PerfWorkload.request(.GET, endpoint, "/health")
        #expect(String(buffer: get.wire) == "GET /prefix/health HTTP/1.1\r\nHost: 127.0.0.1:8016\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func theMissShareOfRequestsAreUniqueAndTheRestIdentical() throws {
        let endpoint = try PerfEndpoint("http://127.0.0.1:8008")
        for workload in [
            PerfWorkload.review(endpoint: endpoint, apiKey: "k", hash: "h", missShare: 0.2),
            PerfWorkload.validate(endpoint: endpoint, token: "t", hash: "h", missShare: 0.2),
        ] {
            let bodies = (0..<1000).map { String(buffer: workload.make($0).wire) }
            let varied = bodies.filter { $0.contains("perf_request") }
            // 7919 is prime to 1000: over 1000 requests the spread hits each residue once.
            #expect(varied.count == 200)
            #expect(Set(varied).count == 200)
            #expect(Set(bodies.filter { !$0.contains("perf_request") }).count == (workload.service == "agent-hitl" ? 1 : BenchInputs.mixed.count))
        }
    }

    @Test func responsesAreReadWhateverWayTheBytesArrive() throws {
        let first = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nX-Constitutional-Hash:  cdd01ef066bc6cf2 \r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
        let second = "HTTP/1.1 503 Service Unavailable\r\nCONTENT-LENGTH: 2\r\nConnection: close\r\n\r\n{}"
        let whole = first + second
        // All at once, then split at every byte: the same two responses each time.
        for cut in [whole.utf8.count] + Array(1..<whole.utf8.count) {
            let bytes = Array(whole.utf8)
            let responses = try Self.parse([String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)])
            try #require(responses.count == 2, "cut at \(cut)")
            #expect(responses[0].status == 201)
            #expect(responses[0].hashHeader == "cdd01ef066bc6cf2")
            #expect(String(buffer: responses[0].body) == #"{"ok":true}"#)
            #expect(responses[0].keepAlive)
            #expect(responses[1].status == 503)
            #expect(responses[1].hashHeader == nil)
            #expect(String(buffer: responses[1].body) == "{}")
            #expect(!responses[1].keepAlive)
        }
    }

    @Test func chunkedBodiesAndBodilessStatusesAreRead() throws {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nB\r\n:[1,2,3,4]}\r\n0\r\n\r\n"
        let noContent = "HTTP/1.1 204 No Content\r\n\r\n"
        let oldServer = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        let responses = try Self.parse([chunked + noContent + oldServer])
        try #require(responses.count == 3)
        #expect(String(buffer: responses[0].body) == #"{"a":[1,2,3,4]}"#)
        #expect(responses[1].status == 204 && responses[1].body.readableBytes == 0)
        #expect(!responses[2].keepAlive, "HTTP/1.0 closes unless it says otherwise")
        #expect(try Self.parse([String(chunked.dropLast(2))]).isEmpty, "incomplete until the last chunk's line ends")
    }

    @Test func whatIsNotAnHTTPResponseIsAnError() {
        #expect(throws: PerfFailure.self) { try Self.parse(["SSH-2.0-OpenSSH\r\n\r\n"]) }
        #expect(throws: PerfFailure.self) { try Self.parse(["HTTP/1.1 200 OK\r\nContent-Length: x1\r\n\r\n"]) }
        #expect(throws: PerfFailure.self) { try Self.parse(["HTTP/1.1 200 OK\r\n\r\nbody until close"]) }
    }
}
