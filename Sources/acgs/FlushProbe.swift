import Foundation

/// How the disk under a directory answers durable flushes: a governed request is answered only
/// after its audit entry is flushed, so no decision is faster than the flush it waits for, and a
/// disk that stalls every flush for a while stalls every decision meanwhile. Appends a WAL-sized
/// write and `fsync`s it at a steady rate, as the audit log does at a moderate decision rate,
/// and reports the latencies and the stalls: runs of slow flushes close together.
struct FlushProbe {
    var directory: String
    var flushesPerSecond = 500
    var seconds: Double
    var bytes = 8 * 1024
    /// A flush slower than this is slow (the open-loop P99 target is 2 ms).
    static let slowMilliseconds = 2.0
    /// Slow flushes this close together belong to one stall.
    static let stallGapSeconds = 0.1

    struct Flush {
        /// Seconds since the probe started.
        var at: Double
        var milliseconds: Double
    }

    struct Stall: Equatable {
        var start: Double
        /// From the start of its first slow flush to the end of its last.
        var milliseconds: Double
        var slowFlushes: Int
        var worstMilliseconds: Double
    }

    struct Profile {
        var flushes: [Flush]
        var seconds: Double
        var stalls: [Stall]

        func percentile(_ p: Double) -> Double {
            let sorted = flushes.map(\.milliseconds).sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }

        /// The share of the measured time spent in stalls.
        var stalledShare: Double { stalls.reduce(0) { $0 + $1.milliseconds } / 1000 / max(seconds, 0.001) }
    }

    /// Groups slow flushes into stalls: each slow flush within `gap` seconds of the end of the last
    /// one extends its stall.
    static func stalls(in flushes: [Flush], slowerThan threshold: Double = slowMilliseconds, gap: Double = stallGapSeconds) -> [Stall] {
        var stalls: [Stall] = []
        var lastEnd = -Double.infinity
        for flush in flushes where flush.milliseconds > threshold {
            let end = flush.at + flush.milliseconds / 1000
            if var current = stalls.last, flush.at - lastEnd <= gap {
                current.milliseconds = (end - current.start) * 1000
                current.slowFlushes += 1
                current.worstMilliseconds = max(current.worstMilliseconds, flush.milliseconds)
                stalls[stalls.count - 1] = current
            } else {
                stalls.append(Stall(start: flush.at, milliseconds: flush.milliseconds, slowFlushes: 1, worstMilliseconds: flush.milliseconds))
            }
            lastEnd = end
        }
        return stalls
    }

    /// Runs the probe on the calling thread (it sleeps between flushes): call it off Swift's pool.
    func run() throws -> Profile {
        let path = directory + "/acgs-flush-probe-\(UUID().uuidString)"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { throw FlushProbeError("cannot create a file in \(directory): \(String(cString: strerror(errno)))") }
        defer {
            close(fd)
            unlink(path)
        }
        // Written and flushed once first, as a log file that is reused: the measured writes
        // overwrite allocated blocks instead of growing the file.
        let region = 4 * 1024 * 1024
        let block = [UInt8](repeating: 0xA5, count: bytes)
        for offset in stride(from: 0, to: region, by: bytes) { try write(fd, block, at: offset) }
        guard fsync(fd) == 0 else { throw FlushProbeError("fsync failed: \(String(cString: strerror(errno)))") }

        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.seconds(1) / flushesPerSecond
        let count = Int(seconds * Double(flushesPerSecond))
        var flushes: [Flush] = []
        flushes.reserveCapacity(count)
        for i in 0..<count {
            let due = start + interval * i
            if due > clock.now { Thread.sleep(forTimeInterval: Self.seconds(due - clock.now)) }
            let began = clock.now
            try write(fd, block, at: (i * bytes) % region)
            guard fsync(fd) == 0 else { throw FlushProbeError("fsync failed: \(String(cString: strerror(errno)))") }
            flushes.append(Flush(at: Self.seconds(began - start), milliseconds: Self.seconds(clock.now - began) * 1000))
        }
        return Profile(flushes: flushes, seconds: Self.seconds(clock.now - start), stalls: Self.stalls(in: flushes))
    }

    private func write(_ fd: Int32, _ block: [UInt8], at offset: Int) throws {
        let written = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == block.count else { throw FlushProbeError("write failed: \(String(cString: strerror(errno)))") }
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

struct FlushProbeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension FlushProbe.Profile {
    /// The lines `acgs bench` prints.
    func report(of probe: FlushProbe) -> String {
        func ms(_ v: Double) -> String { String(format: "%.2f ms", v) }
        var lines = [
            "\nDurable flushes in \(probe.directory) (\(probe.bytes / 1024) KiB written and fsync'd, \(probe.flushesPerSecond) a second for \(String(format: "%.0f", seconds)) s): a decision waits for its flush",
            "p50 \(ms(percentile(0.5)))  p99 \(ms(percentile(0.99)))  p99.9 \(ms(percentile(0.999)))  max \(ms(percentile(1)))",
        ]
        let slow = flushes.filter { $0.milliseconds > FlushProbe.slowMilliseconds }.count
        if let longest = stalls.map(\.milliseconds).max() {
            lines.append(
                "\(slow) flush\(slow == 1 ? "" : "es") over \(ms(FlushProbe.slowMilliseconds)), in \(stalls.count) stall\(stalls.count == 1 ? "" : "s")"
                    + String(format: " (the longest %.0f ms; %.2f%% of the time, in which every durable decision waits)", longest, stalledShare * 100))
        } else {
            lines.append("no flush over \(ms(FlushProbe.slowMilliseconds))")
        }
        return lines.joined(separator: "\n")
    }
}
