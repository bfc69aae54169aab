import Cache
import GovernanceCore
import Prometheus
import Synchronization

/// The Prometheus metrics of one process, in a registry of its own (so tests do not share state).
public final class ACGSMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private struct RequestKey: Hashable {
        var service: ServiceName
        var route: String
        var status: Int
    }

    private let requestMetrics = Mutex<[RequestKey: (Counter, DurationHistogram)]>([:])
    private let decisionCounters: [Outcome: Counter]
    private let cacheHitRate: [CacheTier: Gauge]
    private let complianceRate: Gauge
    private let reviewsOpened: [Bool: Counter]
    private let reviewOutcomes = Mutex<[String: Counter]>([:])
    private let reviewTimeToDecision: DurationHistogram
    private let reviewQueueDepth: Gauge
    private let governed = Atomic<Int>(0)
    private let l1Hits = Atomic<Int>(0)
    private let l2Hits = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)

    /// Buckets around the latency budget: sub-millisecond resolution up to the guide's 5 ms alert.
    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(1),
        .seconds(5),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var counters: [Outcome: Counter] = [:]
        for outcome in [Outcome.allow, .deny, .escalate] {
            counters[outcome] = registry.makeCounter(
                descriptor: .init(namespace: "acgs", metricName: "decisions", unitName: "total", helpText: "Decisions by outcome"),
                labels: [("decision", outcome.rawValue)])
        }
        decisionCounters = counters
        var rates: [CacheTier: Gauge] = [:]
        for tier in [CacheTier.l1, .l2] {
            rates[tier] = registry.makeGauge(
                descriptor: .init(
                    namespace: "acgs", metricName: "cache_hit", unitName: "rate", helpText: "Share of decisions answered from each cache tier"),
                labels: [("tier", tier.rawValue)])
        }
        cacheHitRate = rates
        complianceRate = registry.makeGauge(
            descriptor: .init(
                namespace: "acgs", metricName: "constitutional_compliance", unitName: "rate",
                helpText: "Share of governed requests decided under the verified constitution and durably recorded"))
        complianceRate.set(to: 1)
        var opened: [Bool: Counter] = [:]
        for fastLane in [true, false] {
            opened[fastLane] = registry.makeCounter(
                descriptor: .init(namespace: "acgs", metricName: "review_requests", unitName: "total", helpText: "Review requests opened, by lane"),
                labels: [("lane", fastLane ? "fast" : "queued")])
        }
        reviewsOpened = opened
        reviewTimeToDecision = registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "acgs", metricName: "review_time_to_decision", unitName: "seconds",
                helpText: "From opening to the final state of a queued review request"),
            buckets: [.seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(900), .seconds(1800), .seconds(3600), .seconds(7200)])
        reviewQueueDepth = registry.makeGauge(
            descriptor: .init(namespace: "acgs", metricName: "review_queue_depth", unitName: "", helpText: "Review requests waiting or in review"))
    }

    /// A review request was opened, in the fast lane (approved at once) or into the queue.
    func recordReviewOpened(fastLane: Bool) {
        reviewsOpened[fastLane]?.increment()
    }

    /// A queued review request reached its final state (`approved`, `denied`, `expired`, …).
    func recordReviewFinished(state: String, after duration: Duration) {
        let counter = reviewOutcomes.withLock { counters in
            if let existing = counters[state] { return existing }
            let made = registry.makeCounter(
                descriptor: .init(
                    namespace: "acgs", metricName: "review_outcomes", unitName: "total", helpText: "Queued review requests by final state (expired included)"),
                labels: [("state", state)])
            counters[state] = made
            return made
        }
        counter.increment()
        reviewTimeToDecision.record(duration)
    }

    func setReviewQueueDepth(_ depth: Int) {
        reviewQueueDepth.set(to: Double(depth))
    }

    func recordRequest(service: ServiceName, route: String, status: Int, duration: Duration) {
        let key = RequestKey(service: service, route: route, status: status)
        let (counter, histogram) = requestMetrics.withLock { metrics in
            if let existing = metrics[key] { return existing }
            let labels = [("service", service.rawValue), ("route", route), ("status", String(status))]
            let made = (
                registry.makeCounter(
                    descriptor: .init(namespace: "acgs", metricName: "requests", unitName: "total", helpText: "Requests by service, route and status"),
                    labels: labels),
                registry.makeDurationHistogram(
                    descriptor: .init(
                        namespace: "acgs", metricName: "request_duration", unitName: "seconds",
                        helpText: "Request duration by service, route and status"),
                    labels: labels, buckets: Self.buckets)
            )
            metrics[key] = made
            return made
        }
        counter.increment()
        histogram.record(duration)
    }

    /// Counts a decision; each tier's hit rate is the share of decisions it answered (`tier` nil: a miss).
    func recordDecision(_ outcome: Outcome, tier: CacheTier?) {
        decisionCounters[outcome]?.increment()
        let ok = governed.add(1, ordering: .relaxed).newValue
        let l1 = tier == .l1 ? l1Hits.add(1, ordering: .relaxed).newValue : l1Hits.load(ordering: .relaxed)
        let l2 = tier == .l2 ? l2Hits.add(1, ordering: .relaxed).newValue : l2Hits.load(ordering: .relaxed)
        complianceRate.set(to: Double(ok) / Double(ok + failed.load(ordering: .relaxed)))
        cacheHitRate[.l1]?.set(to: Double(l1) / Double(ok))
        cacheHitRate[.l2]?.set(to: Double(l2) / Double(ok))
    }

    /// A governed request that could not be decided and recorded (the store failed, or the
    /// constitution could not be trusted): the guide alerts when this rate drops below 1.
    func recordGovernanceFailure() {
        let bad = failed.add(1, ordering: .relaxed).newValue
        let ok = governed.load(ordering: .relaxed)
        complianceRate.set(to: Double(ok) / Double(ok + bad))
    }

    public func exposition() -> String { registry.emitToString() }
}
