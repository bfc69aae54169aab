import Foundation
import Testing

@testable import acgs

/// `acgs bench`'s durable flush probe: how slow flushes are grouped into stalls, and a short run on
/// the test machine's disk.
@Suite struct FlushProbeTests {
    typealias Flush = FlushProbe.Flush

    @Test func slowFlushesCloseTogetherAreOneStall() {
        let flushes = [
            Flush(at: 0.000, milliseconds: 0.3),
            Flush(at: 1.000, milliseconds: 5.0),  // a stall starts
            Flush(at: 1.005, milliseconds: 0.4),  // a fast flush inside it does not end it
            Flush(at: 1.050, milliseconds: 3.0),  // 45 ms after the last slow one ended: same stall
            Flush(at: 1.300, milliseconds: 2.5),  // 247 ms later: a stall of its own
            Flush(at: 2.000, milliseconds: 2.0),  // not over the threshold
        ]
        let stalls = FlushProbe.stalls(in: flushes)
        #expect(stalls.count == 2)
        #expect(stalls[0].start == 1.0 && stalls[0].slowFlushes == 2 && stalls[0].worstMilliseconds == 5.0)
        #expect(abs(stalls[0].milliseconds - 53.0) < 1e-9, "from 1.000 s to the end of the flush at 1.050 s")
        #expect(stalls[1] == FlushProbe.Stall(start: 1.3, milliseconds: 2.5, slowFlushes: 1, worstMilliseconds: 2.5))

        let profile = FlushProbe.Profile(flushes: flushes, seconds: 10, stalls: stalls)
        #expect(abs(profile.stalledShare - 0.00555) < 1e-9)
        #expect(profile.percentile(0.5) == 2.5 && profile.percentile(1) == 5.0)
        let report = FlushProbe.Profile(flushes: flushes, seconds: 20, stalls: stalls).report(of: FlushProbe(directory: "/data", seconds: 20))
        #expect(report.contains("3 flushes over 2.00 ms, in 2 stalls (the longest 53 ms; 0.28% of the time"), "\(report)")
    }

    @Test func noSlowFlushNoStall() {
        #expect(FlushProbe.stalls(in: [Flush(at: 0, milliseconds: 0.2), Flush(at: 0.002, milliseconds: 1.9)]).isEmpty)
        #expect(FlushProbe.stalls(in: []).isEmpty)
    }

    @Test func aShortRunFlushesAtTheRateAndReports() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-flush-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let probe = FlushProbe(directory: directory, flushesPerSecond: 100, seconds: 0.5)
        let profile = try probe.run()
        #expect(profile.flushes.count == 50)
        #expect(profile.flushes.allSatisfy { $0.milliseconds > 0 })
        #expect(zip(profile.flushes, profile.flushes.dropFirst()).allSatisfy { $0.at < $1.at }, "flushes are timed in order")
        #expect(profile.seconds >= 0.49, "paced at the rate, not as fast as the disk allows")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "the probe's file is removed")
        let report = profile.report(of: probe)
        #expect(report.contains("Durable flushes in \(directory)") && report.contains("p99.9"))
        #expect(report.contains("over 2.00 ms") || report.contains("no flush over 2.00 ms"))
    }

    @Test func aDirectoryThatCannotBeWrittenIsAClearError() {
        #expect(throws: FlushProbeError.self) { try FlushProbe(directory: "/nonexistent-\(UUID().uuidString)", seconds: 0.1).run() }
    }
}
