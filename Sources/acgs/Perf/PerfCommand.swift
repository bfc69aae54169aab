import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The load settings a phase runs with.
struct PerfSettings: Sendable {
    var connections: Int
    var warmup: Double
    var duration: Double?
    var requests: Int?
    /// Open loop: requests per second per endpoint.
    var rate: Double?
}

/// The deployment guide's performance validation against a running deployment: governed work on
/// the three core services (or `--health-only`, the guide's original health checks), a table,
/// JSON with the guide's fields, an HTML report; exit 0 only when every target is met.
struct Perf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a running deployment and check it against the performance targets.",
        discussion: """
            Runs each endpoint in turn (validate, auth validate, a fast-lane review), each after its own \
            warm-up, over keep-alive connections: closed loop (one request in flight per connection), or \
            open loop with --rate (requests on an evenly spaced schedule, latency counted from the scheduled \
            time). Creates an agent per endpoint through the Auth service as the admin (password in ACGS_ADMIN_PASSWORD \
            or on standard input with --admin-password-stdin) and deletes them afterwards. \
            Exit status: 0 all targets met, 1 not met or failed, 3 usage error.
            """)

    static let serviceNames = ["constitutional-ai", "auth", "agent-hitl"]

    @Option(name: .customLong("constitutional-ai"), help: "The Constitutional AI service's URL.")
    var constitutionalAI = "http://127.0.0.1:32768"

    @Option(help: "The Auth service's URL.")
    var auth = "http://127.0.0.1:8016"

    @Option(help: "The Agent HITL service's URL.")
    var hitl = "http://127.0.0.1:8008"

    @Option(help: "Keep-alive connections per endpoint.")
    var connections = 100

    @Option(help: "Seconds of measured load per endpoint (default 10 unless --requests is given).")
    var duration: Double?

    @Option(help: "Measured requests per endpoint, instead of a duration.")
    var requests: Int?

    @Option(help: "Seconds of warm-up per endpoint, not counted.")
    var warmup = 2.0

    @Option(help: "Open loop: requests per second per endpoint, started on an evenly spaced schedule.")
    var rate: Double?

    @Option(help: "Share of validate and review requests varied so that they miss the server's caches (0 to 1).")
    var missShare = 0.2

    @Flag(help: "The guide's original test: GET /health on each service, no credentials needed.")
    var healthOnly = false

    @Option(help: "The admin who creates (and deletes) the load agent.")
    var adminUser = "admin"

    @Flag(help: "Read the admin password from standard input instead of ACGS_ADMIN_PASSWORD.")
    var adminPasswordStdin = false

    @Option(help: "The services to load, comma-separated: constitutional-ai, auth, agent-hitl.")
    var services = "constitutional-ai,auth,agent-hitl"

    @Option(help: "Target: P99 latency per service, milliseconds.")
    var targetP99Ms = 5.0

    @Option(help: "Target: total throughput, requests per second (the services' figures added).")
    var targetThroughput = 100.0

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Write a self-contained HTML report (latency percentile plots) to this file.")
    var report: String?

    @Option(help: "Event loop threads of the load generator.")
    var threads = 2

    func validate() throws {
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if duration != nil && requests != nil { throw ValidationError("give --duration or --requests, not both") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
        guard (0...1).contains(missShare) else { throw ValidationError("--miss-share must be between 0 and 1") }
        guard targetP99Ms > 0, targetThroughput >= 0 else { throw ValidationError("targets must be positive") }
        _ = try selectedServices()
        for url in [constitutionalAI, auth, hitl] {
            do { _ = try PerfEndpoint(url) } catch { throw ValidationError("\(error)") }
        }
    }

    func selectedServices() throws -> [String] {
        let names = services.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("--services names none") }
        for name in names where !Self.serviceNames.contains(name) {
            throw ValidationError("unknown service '\(name)' in --services (\(Self.serviceNames.joined(separator: ", ")))")
        }
        return Self.serviceNames.filter(names.contains)
    }

    func adminPassword() throws -> String {
        if adminPasswordStdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw InputError("no admin password on standard input") }
            return line
        }
        guard let password = ProcessInfo.processInfo.environment["ACGS_ADMIN_PASSWORD"], !password.isEmpty else {
            throw InputError("the load needs an admin credential: set ACGS_ADMIN_PASSWORD or pass --admin-password-stdin (or use --health-only)")
        }
        return password
    }

    func run() async throws {
        let selected = try selectedServices()
        let endpoints = [
            "constitutional-ai": try PerfEndpoint(constitutionalAI), "auth": try PerfEndpoint(auth), "agent-hitl": try PerfEndpoint(hitl),
        ]
        let password: String? = try healthOnly ? nil : adminPassword()
        let settings = PerfSettings(
            connections: connections, warmup: warmup, duration: requests == nil ? (duration ?? 10) : nil, requests: requests, rate: rate)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let interrupt = PerfInterrupt()
        signal(SIGINT, SIG_IGN)
        let signals = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        signals.setEventHandler { interrupt.trigger() }
        signals.resume()

        let caller = PerfCaller(group: group)
        var phases: [PerfPhaseResult] = []
        var failure: (any Error)?
        var hash = ""
        var identity: PerfIdentity?
        do {
            let health = try await caller.call(.GET, endpoints["constitutional-ai"]!, "/health")
            guard let found = health.json["constitutional_hash"].stringValue else {
                throw PerfFailure("\(constitutionalAI)/health answered HTTP \(health.status) without a constitutional_hash")
            }
            hash = found
            for service in selected {
                if interrupt.interrupted.load(ordering: .relaxed) { break }
                let endpoint = endpoints[service]!
                let workload: PerfWorkload
                if let password {
                    // An agent of its own per phase: the validate phase's denials and escalations
                    // would otherwise raise the risk of its fast-lane reviews out of the fast lane.
                    let agent = try await PerfIdentity.create(caller, auth: endpoints["auth"]!, user: adminUser, password: password, hash: hash)
                    identity = agent
                    switch service {
                    case "constitutional-ai":
                        workload = .validate(endpoint: endpoint, token: agent.accessToken, hash: hash, missShare: missShare)
                    case "auth": workload = .authValidate(endpoint: endpoint, token: agent.accessToken, hash: hash)
                    default: workload = .review(endpoint: endpoint, apiKey: agent.apiKey, hash: hash, missShare: missShare)
                    }
                } else {
                    workload = .health(service: service, endpoint: endpoint, hash: hash)
                }
                FileHandle.standardError.write(Data("\(service): \(workload.label) at \(endpoint)\n".utf8))
                phases.append(try await PerfRunner.run(workload, group: group, options: settings, hash: hash, interrupt: interrupt))
                if let agent = identity {
                    await remove(agent, caller, auth: endpoints["auth"]!, hash: hash)
                    identity = nil
                }
            }
        } catch {
            failure = error
        }
        if let identity { await remove(identity, caller, auth: endpoints["auth"]!, hash: hash) }
        signals.cancel()
        try? await group.shutdownGracefully()
        if let failure { throw failure }

        let mode =
            (healthOnly ? "GET /health" : "governed work") + ", \(connections) connections, "
            + (rate.map { String(format: "open loop at %.0f req/s per endpoint", $0) } ?? "closed loop") + ", "
            + (settings.requests.map { "\($0) requests" } ?? String(format: "%g s", settings.duration ?? 0)) + " per endpoint"
            + (interrupt.interrupted.load(ordering: .relaxed) ? " (interrupted)" : "")
        let summary = PerfSummary(
            timestamp: Date(), hash: hash, mode: mode, services: phases.map { PerfServiceSummary($0, targetP99: targetP99Ms) },
            targetP99: targetP99Ms, targetThroughput: targetThroughput)
        print(summary.table, terminator: "")
        if let json { try (summary.jsonText + "\n").write(toFile: json, atomically: true, encoding: .utf8) }
        if let report { try summary.html.write(toFile: report, atomically: true, encoding: .utf8) }
        if interrupt.interrupted.load(ordering: .relaxed) { throw ExitCode(130) }
        if !summary.allTargetsMet { throw ExitCode(1) }
    }

    private func remove(_ agent: PerfIdentity, _ caller: PerfCaller, auth: PerfEndpoint, hash: String) async {
        if !(await agent.delete(caller, auth: auth, hash: hash)) {
            FileHandle.standardError.write(Data("warning: could not delete the load agent \(agent.agentId); delete it by hand\n".utf8))
        }
    }
}
