import Foundation
import Histogram
import NIOCore
import NIOPosix
import Synchronization

/// When a phase's requests start and stop. Times are `NIODeadline`s (monotonic).
struct PerfPlan: Sendable {
    var start: NIODeadline
    var warmupEnd: NIODeadline
    /// No request starts (or, open loop, is scheduled) at or after this.
    var end: NIODeadline
    /// Closed loop with `--requests`: measured requests to send in all.
    var requestLimit: Int?
    /// Open loop: the spacing of the endpoint's schedule.
    var interval: TimeAmount?
    var connections: Int

    /// Open loop: when request `k` of connection `index` is due. The endpoint's schedule is evenly
    /// spaced; connection `c` takes the slots `c, c + N, c + 2N, …`.
    func scheduled(connection index: Int, sequence k: Int) -> NIODeadline? {
        guard let interval else { return nil }
        return start + .nanoseconds(interval.nanoseconds * Int64(index + k * connections))
    }
}

/// Counters every connection of a phase adds to, read by the progress line.
final class PerfCounters: Sendable {
    let completed = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let tickets = Atomic<Int>(0)
    let sequence = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
}

/// What one connection measured.
struct PerfTally: Sendable {
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var responses = 0
    var successes = 0
    var statusErrors = 0
    var ioErrors = 0
    /// Open loop: measured slots never sent because the server fell too far behind.
    var unsent = 0
    var compliant = 0
    /// Responses by HTTP status.
    var statuses: [Int: Int] = [:]
    var lastCompletion: NIODeadline?

    init() { histogram.autoResize = true }

    mutating func add(_ other: PerfTally) {
        histogram.add(other.histogram)
        responses += other.responses
        successes += other.successes
        statusErrors += other.statusErrors
        ioErrors += other.ioErrors
        unsent += other.unsent
        compliant += other.compliant
        statuses.merge(other.statuses, uniquingKeysWith: +)
        if let last = other.lastCompletion, lastCompletion.map({ last > $0 }) ?? true { lastCompletion = last }
    }
}

/// One connection's loop, run on its event loop: closed loop (next request when the last one is
/// answered) or open loop (each request at its scheduled time, latency counted from then).
final class PerfDriver: @unchecked Sendable {
    let loop: any EventLoop
    let workload: PerfWorkload
    let plan: PerfPlan
    let index: Int
    let hash: String
    let counters: PerfCounters
    let done: EventLoopPromise<PerfTally>
    private var tally = PerfTally()
    private var connection: PerfConnection?
    private var sequence = 0
    private var finished = false
    private var connectFailures = 0

    init(loop: any EventLoop, workload: PerfWorkload, plan: PerfPlan, index: Int, hash: String, counters: PerfCounters) {
        self.loop = loop
        self.workload = workload
        self.plan = plan
        self.index = index
        self.hash = hash
        self.counters = counters
        self.done = loop.makePromise(of: PerfTally.self)
    }

    func start() -> EventLoopFuture<PerfTally> {
        loop.execute { self.connect() }
        return done.futureResult
    }

    private func stopping(_ now: NIODeadline) -> Bool { counters.stop.load(ordering: .relaxed) || now >= plan.end }

    private func finish() {
        guard !finished else { return }
        finished = true
        connection?.close()
        done.succeed(tally)
    }

    private func connect() {
        PerfConnection.connect(workload.endpoint, on: loop).whenComplete { result in
            switch result {
            case .success(let connection):
                self.connection = connection
                self.connectFailures = 0
                self.next()
            case .failure:
                self.failed(measured: .now() >= self.plan.warmupEnd)
                self.connectFailures += 1
                // Five seconds without a connection: this connection gives up (the errors say why).
                if self.stopping(.now()) || self.connectFailures >= 50 { self.finish() } else {
                    self.loop.scheduleTask(in: .milliseconds(100)) { self.connect() }
                }
            }
        }
    }

    private func failed(measured: Bool) {
        counters.errors.add(1, ordering: .relaxed)
        if measured { tally.ioErrors += 1 }
    }

    private func next() {
        let now = NIODeadline.now()
        // Open loop: every slot scheduled before the end is sent, however late.
        if plan.interval == nil ? stopping(now) : counters.stop.load(ordering: .relaxed) { return finish() }
        if let due = plan.scheduled(connection: index, sequence: sequence) {
            sequence += 1
            if due >= plan.end { return finish() }
            // A server far behind the schedule: stop at twice the measured time, the slots not sent counted as errors.
            if now >= plan.end + (plan.end - plan.warmupEnd) {
                var k = sequence - 1
                while let slot = plan.scheduled(connection: index, sequence: k), slot < plan.end {
                    if slot >= plan.warmupEnd { tally.unsent += 1 }
                    k += 1
                }
                counters.errors.add(tally.unsent, ordering: .relaxed)
                return finish()
            }
            if due > now {
                loop.scheduleTask(deadline: due) { self.fire(at: due) }
                return
            }
            fire(at: due)
        } else {
            fire(at: now)
        }
    }

    private func fire(at scheduled: NIODeadline) {
        if counters.stop.load(ordering: .relaxed) { return finish() }
        let measured = scheduled >= plan.warmupEnd
        if measured, let limit = plan.requestLimit, counters.tickets.wrappingAdd(1, ordering: .relaxed).oldValue >= limit {
            return finish()
        }
        guard let connection, connection.isActive else {
            self.connection = nil
            return connect()
        }
        let request = workload.make(counters.sequence.wrappingAdd(1, ordering: .relaxed).oldValue)
        connection.send(request) { result in
            let completed = NIODeadline.now()
            self.counters.completed.add(1, ordering: .relaxed)
            switch result {
            case .success(let response):
                let ok = (200..<300).contains(response.status)
                if !ok { self.counters.errors.add(1, ordering: .relaxed) }
                if measured {
                    let micros = max(1, (completed - scheduled).nanoseconds / 1000)
                    _ = self.tally.histogram.record(UInt64(micros))
                    self.tally.responses += 1
                    self.tally.statuses[response.status, default: 0] += 1
                    if ok { self.tally.successes += 1 } else { self.tally.statusErrors += 1 }
                    if self.compliant(response) { self.tally.compliant += 1 }
                    self.tally.lastCompletion = completed
                }
                if response.keepAlive { self.next() } else {
                    connection.close()
                    self.connection = nil
                    self.connect()
                }
            case .failure:
                self.failed(measured: measured)
                connection.close()
                self.connection = nil
                if self.stopping(.now()) { self.finish() } else { self.connect() }
            }
        }
    }

    /// The response carried the constitutional hash: in its header, or in its JSON body.
    private func compliant(_ response: PerfResponse) -> Bool {
        if let header = response.hashHeader { return header == hash }
        return response.json["constitutional_hash"].stringValue == hash
    }
}

/// One service's measured phase.
struct PerfPhaseResult: Sendable {
    var service: String
    var label: String
    var tally: PerfTally
    var seconds: Double
    var interrupted: Bool
    /// This process's CPU time per request sent in the phase (warm-up included). On a machine the
    /// server shares, the load generator takes that much from it for every request.
    var generatorCPUMicrosecondsPerRequest: Double? = nil
}

/// The CPU time this process has used, user and system, in microseconds.
enum ProcessCPU {
    static func microseconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func micros(_ t: timeval) -> Double { Double(t.tv_sec) * 1e6 + Double(t.tv_usec) }
        return micros(usage.ru_utime) + micros(usage.ru_stime)
    }
}

enum PerfRunner {
    static func run(
        _ workload: PerfWorkload, group: any EventLoopGroup, options: PerfSettings, hash: String, interrupt: PerfInterrupt
    ) async throws -> PerfPhaseResult {
        let counters = PerfCounters()
        interrupt.current.withLock { $0 = counters }
        defer { interrupt.current.withLock { $0 = nil } }
        let start = NIODeadline.now()
        let warmupEnd = start + .nanoseconds(Int64(options.warmup * 1e9))
        var end = options.duration.map { warmupEnd + .nanoseconds(Int64($0 * 1e9)) } ?? .distantFuture
        var interval: TimeAmount?
        var limit = options.requests
        if let rate = options.rate {
            interval = .nanoseconds(Int64((1e9 / rate).rounded()))
            if let requests = options.requests {
                end = warmupEnd + .nanoseconds(Int64(Double(requests) / rate * 1e9))
                limit = nil
            }
        }
        let plan = PerfPlan(start: start, warmupEnd: warmupEnd, end: end, requestLimit: limit, interval: interval, connections: options.connections)
        let drivers = (0..<options.connections).map {
            PerfDriver(loop: group.next(), workload: workload, plan: plan, index: $0, hash: hash, counters: counters)
        }
        let cpuAtStart = ProcessCPU.microseconds()
        let progress = Task { await PerfProgress.run(service: workload.service, plan: plan, counters: counters) }
        let futures = drivers.map { $0.start() }
        var tally = PerfTally()
        for future in futures { tally.add(try await future.get()) }
        progress.cancel()
        await progress.value
        let sent = counters.completed.load(ordering: .relaxed)
        let cpu = sent > 0 ? (ProcessCPU.microseconds() - cpuAtStart) / Double(sent) : nil
        let last = tally.lastCompletion ?? .now()
        let seconds = max(0.001, Double((last - warmupEnd).nanoseconds) / 1e9)
        return PerfPhaseResult(
            service: workload.service, label: workload.label, tally: tally, seconds: seconds, interrupted: counters.stop.load(ordering: .relaxed),
            generatorCPUMicrosecondsPerRequest: cpu)
    }
}

/// The live progress line on standard error: rewritten in place on a terminal, a line a second otherwise.
enum PerfProgress {
    static func run(service: String, plan: PerfPlan, counters: PerfCounters) async {
        let terminal = isatty(STDERR_FILENO) != 0
        let tick: Duration = terminal ? .milliseconds(250) : .seconds(1)
        var lastCount = 0
        var lastTime = NIODeadline.now()
        var wrote = false
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            let now = NIODeadline.now()
            let count = counters.completed.load(ordering: .relaxed)
            let rate = Double(count - lastCount) / max(0.001, Double((now - lastTime).nanoseconds) / 1e9)
            lastCount = count
            lastTime = now
            let elapsed = Double((now - plan.start).nanoseconds) / 1e9
            let phase = now < plan.warmupEnd ? "warm-up" : "measuring"
            let line = String(
                format: "%@  %@  %.1f s  %d requests  %.0f req/s  %d errors", service, phase, elapsed, count, rate,
                counters.errors.load(ordering: .relaxed))
            if terminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            } else {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            wrote = true
        }
        if terminal && wrote { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Ctrl-C: stops the running phase; the tool then cleans up and reports what it measured.
final class PerfInterrupt: Sendable {
    let current = Mutex<PerfCounters?>(nil)
    let interrupted = Atomic<Bool>(false)

    func trigger() {
        if interrupted.exchange(true, ordering: .relaxed) {
            FileHandle.standardError.write(Data("\ninterrupted again: exiting without cleanup\n".utf8))
            exit(130)
        }
        FileHandle.standardError.write(Data("\ninterrupted: stopping, cleaning up (Ctrl-C again to exit at once)\n".utf8))
        current.withLock { $0?.stop.store(true, ordering: .relaxed) }
    }
}
