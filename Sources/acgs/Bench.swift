import ArgumentParser
import AuditLog
import Cache
import Foundation
import GovernanceCore
import Hummingbird
import Identity
import Logging
import RedisClient
import Server
import ServiceLifecycle
import Storage

/// Measures what the budgets in DESIGN.md are about: in-process evaluation latency, and HTTP
/// throughput and P99 of the validate endpoint beside a bare Hummingbird JSON endpoint, loaded
/// the same way (wrk, keep-alive connections) in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark rule evaluation and the validate endpoint (build with -c release).",
        discussion: "HTTP figures need wrk (apt-get install wrk); all traffic goes to 127.0.0.1.")

    @Option(help: "Evaluations per constitution in the in-process benchmark.")
    var iterations = 200_000

    @Option(help: "Seconds of measured load per HTTP run.")
    var duration = 5

    @Option(help: "Rounds of the HTTP comparison. The machine's speed drifts from minute to minute, so each governed endpoint is judged against a bare run just before it, and the targets on the median of the rounds.")
    var rounds = 3

    @Option(help: "Keep-alive connections for the HTTP load.")
    var connections = 100

    @Option(help: "First of the two loopback ports used by the HTTP benchmark.")
    var portBase = 19_080

    @Option(help: "Seconds of the durable flush probe (0 skips it).")
    var flushSeconds = 10

    @Option(help: "Directory whose disk the flush probe measures: the data directory of a deployment, say (default: the temporary directory, where the benchmark keeps its stores).")
    var flushDirectory: String?

    @Flag(help: "Only the in-process evaluation benchmark.")
    var evaluationOnly = false

    @Flag(help: "With the evaluation benchmark: each input of the reference mix on its own, to see which ones set the p99.")
    var perInput = false

    @Flag(help: "Only the durable flush probe: is this disk fast enough for durable decisions?")
    var flushOnly = false

    @Flag(help: "Also run the validate endpoint with decisions kept in memory, to separate the cost of durability.")
    var compareMemoryStore = false

    func validate() throws {
        guard rounds >= 1, duration >= 1, connections >= 1 else {
            throw ValidationError("--rounds, --duration and --connections must be at least 1")
        }
        guard flushSeconds >= 0 else { throw ValidationError("--flush-seconds must be 0 or more") }
    }

    func run() async throws {
        #if DEBUG
        print("note: this is a debug build; measure with `swift build -c release` and .build/release/acgs bench")
        #endif
        // As `acgs serve` runs: the bare endpoint and the governed ones share the process, and so the policy.
        ThreadScheduling.favourThroughput()
        if flushOnly { return try await flushBenchmark() }
        try evaluationBenchmark()
        if evaluationOnly { return }
        // Before anything writes: a disk still writing back (or discarding) a benchmark's files
        // would be measured instead of the disk itself.
        try await flushBenchmark()
        try await storageBenchmark()
        try await httpBenchmark()
    }

    // MARK: in-process evaluation

    func evaluationBenchmark() throws {
        print("In-process evaluation (\(iterations) evaluations each, inputs from the golden mix)")
        print(pad("constitution", 34) + pad("rules", 8) + pad("p50", 10) + pad("p99", 10) + pad("p99.9", 10) + "max")
        let reference = try CompiledConstitution(source: ReferenceConstitution.source)
        let inputs = BenchInputs.mixed
        try measure("reference", reference, inputs)
        if perInput {
            for input in inputs { try measure("  " + Self.label(input), reference, [input]) }
        }
        for count in [1_000, 10_000] {
            let generated = try CompiledConstitution(BenchInputs.generatedConstitution(rules: count))
            try measure("generated", generated, BenchInputs.generatedInputs(rules: count) + inputs)
        }
    }

    /// An input of the mix in a few words: its action type and tool, or the start of its content.
    static func label(_ input: JudgedInput) -> String {
        if let type = input.action["type"].stringValue {
            return [type, input.action["tool"].stringValue].compactMap { $0 }.joined(separator: "/")
        }
        return String(input.content.stringValue?.prefix(28) ?? "")
    }

    func measure(_ name: String, _ constitution: CompiledConstitution, _ inputs: [JudgedInput]) throws {
        var samples: [Int64] = []
        samples.reserveCapacity(iterations)
        var sink = 0
        for i in 0..<min(iterations, 10_000) { sink &+= constitution.evaluate(inputs[i % inputs.count]).violations.count }  // warm-up
        for i in 0..<iterations {
            let input = inputs[i % inputs.count]
            let start = ContinuousClock.now
            let e = constitution.evaluate(input)
            let elapsed = ContinuousClock.now - start
            sink &+= e.violations.count
            samples.append(elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000)
        }
        samples.sort()
        func pct(_ p: Double) -> String { String(format: "%.2f µs", Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1000) }
        print(pad(name, 34) + pad("\(constitution.ruleCount)", 8) + pad(pct(0.5), 10) + pad(pct(0.99), 10) + pad(pct(0.999), 10) + pct(1.0) + (sink == -1 ? "" : ""))
    }

    // MARK: durable appends

    /// Audit appends per second through the group committer into the embedded store (entries with
    /// their leaf and subtree hashes, one INSERT and one flush per batch), with as many concurrent
    /// writers as the HTTP benchmark has connections.
    func storageBenchmark() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audit = try await SQLiteAuditRepository.open(path: directory + "/bench.sqlite")
        let log = try await AuditLogWriter.open(repository: audit)
        let checkpointer = Task { try await SQLiteCheckpointer(repository: audit, logger: Logger(label: "bench")).run() }
        defer { checkpointer.cancel() }
        let seconds = min(duration, 5)
        let deadline = ContinuousClock.now + .seconds(seconds)
        // A decision entry's payload as the decision path writes it, with its own id.
        let payload: JSONValue = [
            "constitution_version": "1.0.0", "decision_id": "dec_0000000000000000000000000000",
            "evaluation": [
                "compliant": true, "decision": "allow", "reasoning": "Allowed under ACGS-2 Reference Constitution 1.0.0: no rule matched.",
                "recommendations": [], "score": 1, "violated_principles": [], "violations": [],
            ],
            "input": ["action": ["arguments": ["command": "ls -la /var/log"], "type": "shell"], "content": "list the logs"],
        ]
        let payloadText = CanonicalJSON.encode(payload)
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for writer in 0..<connections {
                group.addTask {
                    var mine: [Duration] = []
                    var i = 0
                    while ContinuousClock.now < deadline {
                        let id = "dec_" + String(format: "%012d%016d", writer, i)
                        let event = AuditEvent(
                            type: .decision, actor: "bench-agent", constitutionalHash: ReferenceConstitution.hash, subjects: [id, "bench-agent"],
                            canonicalPayload: payloadText.replacingOccurrences(of: "dec_0000000000000000000000000000", with: id),
                            inputDigest: String(repeating: "0", count: 64))
                        let start = ContinuousClock.now
                        _ = try await log.append(event)
                        mine.append(.now - start)
                        i += 1
                    }
                    return mine
                }
            }
            var all: [Duration] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let keys = try await AuditSigningKeys.open(dataDirectory: directory)
        let verifyStart = ContinuousClock.now
        let signer = try await TreeHeadSigner(log: log, keys: keys, constitutionalHash: { ReferenceConstitution.hash })
        try await signer.sign()
        let report = try await audit.verify(keys: try await keys.publicKeys())
        let verifyTime = ContinuousClock.now - verifyStart
        try await audit.close()
        func ms(_ d: Duration) -> String { String(format: "%.2f ms", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000) }
        print("\nDurable audit appends through group commit (SQLite, WAL, synchronous=FULL), \(connections) concurrent writers, \(seconds) s")
        print(String(format: "%.0f appends/s", Double(latencies.count) / Double(seconds))
            + "  p50 \(ms(latencies[latencies.count / 2]))  p99 \(ms(latencies[latencies.count * 99 / 100]))  max \(ms(latencies[latencies.count - 1]))")
        print("full verification of the \(report.entriesChecked) entries: \(ms(verifyTime)), \(report.valid ? "valid" : "INVALID: \(report.problems.first?.description ?? "")")")
    }

    // MARK: the disk's flushes

    /// The disk's own flush latencies and stalls, which every durable decision inherits.
    func flushBenchmark() async throws {
        guard flushSeconds > 0 else { return }
        let directory = flushDirectory ?? FileManager.default.temporaryDirectory.path
        let probe = FlushProbe(directory: directory, seconds: Double(flushSeconds))
        // On a thread of its own: the probe sleeps between flushes.
        let profile = try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try probe.run() }) }.start()
        }
        print(profile.report(of: probe))
    }

    // MARK: HTTP

    func httpBenchmark() async throws {
        guard let wrk = Self.which("wrk") else {
            print("\nHTTP benchmark skipped: wrk is not installed (apt-get install wrk).")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "acgs.bench")
        logger.logLevel = .warning
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory
        // The same backends as a server given ACGS_DATABASE_URL and ACGS_REDIS_URL.
        let environment = ProcessInfo.processInfo.environment
        configuration.databaseURL = environment["ACGS_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.redisURL = environment["ACGS_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var backgroundServices: [any Service] = []
        let database = try configuration.databaseURL.map { try PostgresStore(url: $0, logger: logger) }
        let pool = Task { await database?.run() }
        defer { pool.cancel() }
        let redis = try configuration.redisURL.map { try RedisClient(url: $0, logger: logger) }
        if let redis { backgroundServices.append(redis) }
        let stores: Stores
        if let database {
            stores = try await Stores.postgres(database)
        } else {
            stores = try await Stores.embedded(directory: directory, logger: logger)
        }
        backgroundServices += stores.services
        let runtime = try await ACGSServer.makeRuntime(configuration, stores: stores, l2: redis.map(L2Cache.init), logger: logger)
        print("\nstore: \(database.map { "PostgreSQL \($0.location)" } ?? "SQLite (embedded)"); cache: L1\(redis == nil ? " only" : " + Redis L2")")
        let store = stores.audit
        let barePort = portBase, validatePort = portBase + 1, authPort = portBase + 3
        // An agent and its key, as a real client would have; the key is exchanged for a token too.
        let agent = try await runtime.auth.createAgent(name: "bench-agent", owner: "bench", by: nil)
        let apiKey = try await runtime.auth.createAPIKey(agentId: agent.id, expiresAt: nil, by: nil).key
        let accessToken = try await runtime.auth.apiKeyGrant(key: apiKey).accessToken
        let bare = BareApplication.build(port: barePort, logger: logger)
        let full = buildApplication(service: .constitutionalAI, runtime: runtime, host: "127.0.0.1", port: validatePort, logger: logger)
        let authApp = buildApplication(service: .auth, runtime: runtime, host: "127.0.0.1", port: authPort, logger: logger)
        let hitlPort = portBase + 4
        let hitlApp = buildApplication(service: .agentHITL, runtime: runtime, host: "127.0.0.1", port: hitlPort, logger: logger)

        let body = CanonicalJSON.encode(BenchInputs.httpBody)
        let hash = runtime.activeHash
        // Stopped gracefully at the end: cancelling servers with connections still open trips NIO's checks.
        let services = ServiceGroup(
            configuration: .init(services: [bare, full, authApp, hitlApp] + backgroundServices, gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await Task.sleep(for: .milliseconds(500))
            print("\nHTTP at \(connections) keep-alive connections, \(duration) s per run after a 2 s warm-up (wrk -t2, loopback)")
            print("\(rounds) round\(rounds == 1 ? "" : "s"); in each, the bare endpoint runs just before each governed one, and each is judged against that run")
            let load = { (url: String, body: String, bearer: String?) in
                try Wrk.run(wrk, url: url, body: body, hash: hash, bearer: bearer, connections: connections, duration: duration)
            }
            let bareURL = "http://127.0.0.1:\(barePort)/bare"
            let validateURL = "http://127.0.0.1:\(validatePort)/api/v1/constitutional/validate"
            let governed: [(name: String, url: String, body: String, bearer: String?, throughput: ThroughputTarget)] = [
                ("POST /api/v1/constitutional/validate (JWT)", validateURL, body, accessToken, .ofBare(0.5)),
                ("POST /api/v1/auth/validate", "http://127.0.0.1:\(authPort)/api/v1/auth/validate",
                 CanonicalJSON.encode(["token": .string(accessToken)]), nil, .ofBare(0.5)),
                // A review request on the fast lane: scored, approved at once, stored and audited.
                ("POST /api/v1/reviews (fast lane)", "http://127.0.0.1:\(hitlPort)/api/v1/reviews",
                 CanonicalJSON.encode(BenchInputs.fastLaneReview), apiKey, .absolute(5_000)),
            ]
            var pairs = Array(repeating: [(bare: Wrk, endpoint: Wrk)](), count: governed.count)
            for round in 1...rounds {
                print("\nround \(round) of \(rounds)")
                print(pad("endpoint", 44) + pad("req/s", 12) + pad("p50", 11) + pad("p90", 11) + "p99")
                for (i, endpoint) in governed.enumerated() {
                    let bareRun = try load(bareURL, body, nil)
                    print(bareRun.row("bare Hummingbird JSON (POST /bare)"))
                    let run = try load(endpoint.url, endpoint.body, endpoint.bearer)
                    print(run.row(endpoint.name) + (run.errors > 0 ? "  (\(run.errors) non-2xx)" : ""))
                    pairs[i].append((bareRun, run))
                }
                if round == 1 {
                    // The other credential a client may send: shown, not judged.
                    print(try load(validateURL, body, apiKey).row("validate again, with the API key as bearer"))
                }
            }
            if compareMemoryStore {
                let memoryLog = InMemoryAuditRepository()
                let memoryHeads = try await TreeHeadSigner(
                    log: try await AuditLogWriter.open(repository: memoryLog),
                    keys: runtime.treeHeads.keys, constitutionalHash: { runtime.activeHash })
                let memoryRuntime = GovernanceRuntime(
                    constitution: runtime.constitution, decisions: memoryLog, treeHeads: memoryHeads, identities: stores.identities,
                    tokens: runtime.auth.tokens, logger: logger)
                let memoryApp = buildApplication(service: .constitutionalAI, runtime: memoryRuntime, host: "127.0.0.1", port: validatePort + 1, logger: logger)
                let memoryServices = ServiceGroup(configuration: .init(services: [memoryApp], gracefulShutdownSignals: [], logger: logger))
                group.addTask { try await memoryServices.run() }
                defer { Task { await memoryServices.triggerGracefulShutdown() } }
                try await Task.sleep(for: .milliseconds(300))
                let memoryResult = try load("http://127.0.0.1:\(validatePort + 1)/api/v1/constitutional/validate", body, apiKey)
                print(memoryResult.row("validate, audit log in memory (not durable)"))
            }
            print("\ntargets, on the median of the rounds (each round's figure in brackets):")
            for (endpoint, pairs) in zip(governed, pairs) {
                print(Self.verdict(endpoint.name, pairs, minimumThroughput: endpoint.throughput))
            }
            let stored = try await store.count()
            let runs = pairs.joined()
            print(
                "decisions durably recorded in the audit log during the run: \(stored); non-2xx responses: bare \(runs.reduce(0) { $0 + $1.bare.errors }), governed \(runs.reduce(0) { $0 + $1.endpoint.errors })")
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        await stores.close()
    }

    enum ThroughputTarget {
        case ofBare(Double)
        case absolute(Double)
    }

    /// One endpoint's figures against the bare runs beside them: the medians of the rounds' ratios.
    static func verdict(_ name: String, _ pairs: [(bare: Wrk, endpoint: Wrk)], minimumThroughput: ThroughputTarget) -> String {
        func list(_ values: [Double], _ format: String) -> String {
            values.map { String(format: format, $0) }.joined(separator: ", ")
        }
        func met(_ ok: Bool) -> String { ok ? "met" : "NOT met" }
        let p99Ratios = pairs.map { $0.endpoint.p99 / $0.bare.p99 }
        let p99Ratio = median(p99Ratios)
        let throughput: String
        switch minimumThroughput {
        case .ofBare(let share):
            let ratios = pairs.map { $0.endpoint.requestsPerSecond / $0.bare.requestsPerSecond }
            throughput = String(format: "throughput %.2f of bare (%@; target >= %.2f: %@)", median(ratios), list(ratios, "%.2f"), share, met(median(ratios) >= share))
        case .absolute(let rate):
            let rates = pairs.map(\.endpoint.requestsPerSecond)
            throughput = String(format: "%.0f req/s (%@; target >= %.0f: %@)", median(rates), list(rates, "%.0f"), rate, met(median(rates) >= rate))
        }
        // Three decimals: a ratio just over the target must not print as the target itself.
        let figures = "  \(name): \(throughput), P99 \(String(format: "%.3f", p99Ratio)) of bare (\(list(p99Ratios, "%.3f")); target <= 1.50: \(met(p99Ratio <= 1.5)))"
        // Errors are fast to send: a run with any of them says nothing about the speed of the work.
        let errors = pairs.reduce(0) { $0 + $1.bare.errors + $1.endpoint.errors }
        return errors == 0 ? figures : "  \(name): NOT met, \(errors) non-2xx responses in its runs or their bare runs (figures void: \(figures.dropFirst(2)))"
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

/// The baseline: a Hummingbird endpoint that decodes the same JSON body and answers small JSON.
enum BareApplication {
    struct Reply: ResponseEncodable {
        var ok: Bool
        var received: Int
    }

    static func build(port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.post("/bare") { request, context -> Reply in
            let body = try await request.decode(as: JSONValue.self, context: context)
            return Reply(ok: true, received: body.objectValue?.count ?? 0)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    }
}

/// Runs wrk and reads its report.
struct Wrk {
    var requestsPerSecond: Double
    var p50: Double
    var p90: Double
    var p99: Double
    var errors: Int

    func row(_ name: String) -> String {
        pad(name, 44) + pad(String(format: "%.0f", requestsPerSecond), 12) + pad(Self.ms(p50), 11) + pad(Self.ms(p90), 11) + Self.ms(p99)
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }

    static func run(_ wrk: String, url: String, body: String, hash: String, bearer: String? = nil, connections: Int, duration: Int) throws -> Wrk {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-bench-\(UUID().uuidString).lua")
        let escaped = body.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let lua = """
            wrk.method = "POST"
            wrk.body = "\(escaped)"
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["X-Constitutional-Hash"] = "\(hash)"
            \(bearer.map { "wrk.headers[\"Authorization\"] = \"Bearer \($0)\"" } ?? "")
            """
        try lua.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        _ = try execute(wrk, ["-t2", "-c\(connections)", "-d2s", "-s", script.path, url])  // warm-up
        let output = try execute(wrk, ["-t2", "-c\(connections)", "-d\(duration)s", "--latency", "-s", script.path, url])
        return try parse(output)
    }

    static func execute(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ output: String) throws -> Wrk {
        var result = Wrk(requestsPerSecond: 0, p50: 0, p90: 0, p99: 0, errors: 0)
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = parts.first else { continue }
            switch first {
            case "50%": result.p50 = seconds(parts.last)
            case "90%": result.p90 = seconds(parts.last)
            case "99%": result.p99 = seconds(parts.last)
            case "Requests/sec:": result.requestsPerSecond = Double(parts.last ?? "") ?? 0
            case "Non-2xx": result.errors += Int(parts.last ?? "") ?? 0
            default: continue
            }
        }
        guard result.requestsPerSecond > 0 else { throw InputError("could not read wrk's report:\n\(output)") }
        return result
    }

    static func seconds(_ token: Substring?) -> Double {
        guard let token else { return 0 }
        for (suffix, scale) in [("us", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0)] where token.hasSuffix(suffix) {
            return (Double(token.dropLast(suffix.count)) ?? 0) * scale
        }
        return 0
    }
}
