import AuditLog
import Cache
import Foundation
import GovernanceCore
import Logging
import Storage
import Synchronization

/// Human review of actions: opens requests (from escalated decisions or agents' own requests),
/// applies reviewers' steps and deadlines, records every step in the audit log, and wakes agents
/// waiting for an outcome.
///
/// Steps on requests are serialised in this actor: each is read, applied, stored, then audited; if
/// the audit entry cannot be written the stored step is undone and the caller gets a 503, so no
/// step stands without its entry. Opening a request reads no earlier state, so it runs outside the
/// actor (the fast lane opens thousands a second); only choosing an assignee enters it.
public actor ReviewDesk {
    public nonisolated let repository: any ReviewRepository
    public nonisolated let policy: ReviewPolicy
    private let audit: AuditLogWriter
    private let log: any AuditRepository
    /// The active people holding any of the given roles, with their roles: candidates for assignment.
    public typealias ReviewerDirectory = @Sendable (Set<String>) async throws -> [ReviewActor]
    private let reviewers: ReviewerDirectory?
    /// The people who act for an agent (its owner, when the owner names a user): they may not review
    /// its requests either.
    public typealias Delegates = @Sendable (String) async throws -> Set<String>
    private let delegates: Delegates?
    /// Delegates looked up in the last minute, by agent: the fast lane opens thousands a second.
    private let delegateCache = LRUCache<String, Set<String>>(capacity: 10_000, ttl: .seconds(60))
    /// An agent's recent denials and escalations, read at most once a second.
    private let historyCache = LRUCache<String, (denials: Int, escalations: Int)>(capacity: 10_000, ttl: .seconds(1))
    /// Open requests per assignee, read at most once a second and counted up by this desk's own
    /// assignments in between: counting them per assignment scans every open request.
    private var assigneeLoad: (counts: [String: Int], until: Date)?
    private var loadRefresh: Task<[String: Int], any Error>?
    /// The reviewers of each level, read at most once a second: every escalation looks them up.
    private let reviewerCache = LRUCache<Set<String>, [ReviewActor]>(capacity: 64, ttl: .seconds(1))
    public nonisolated let webhooks: WebhookDispatcher?
    private let now: @Sendable () -> Date
    private let metrics: ACGSMetrics
    private let logger: Logger
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
    /// A counter of changes, and the last change of each request: a waiter that read a request at
    /// mark m is woken at once if the request changed after m.
    private var changes = 0
    private var lastChange: [String: Int] = [:]
    /// Streams of each requester's requests (server-sent events); behind a lock, so that opening a
    /// request publishes it without entering the actor.
    private let subscribers = Mutex<[String: [UUID: AsyncStream<ReviewRequest>.Continuation]]>([:])

    public init(
        repository: any ReviewRepository, policy: ReviewPolicy = ReviewPolicy(), audit: AuditLogWriter,
        reviewers: ReviewerDirectory? = nil, delegates: Delegates? = nil, webhooks: WebhookDispatcher? = nil, now: @escaping @Sendable () -> Date = Date.init, metrics: ACGSMetrics = ACGSMetrics(),
        logger: Logger = Logger(label: "acgs.hitl")
    ) {
        self.reviewers = reviewers
        self.delegates = delegates
        self.webhooks = webhooks
        self.repository = repository
        self.policy = policy
        self.audit = audit
        self.log = audit.repository
        self.now = now
        self.metrics = metrics
        self.logger = logger
    }

    /// What a new request is about, with what a reviewer may see of it masked once, here: an
    /// opening is cached by its body and may be opened many times.
    public struct Opening: Sendable {
        public let requester: String
        public let actingFor: Set<String>
        public let input: JudgedInput
        public let violations: [Violation]
        public let reason: String?
        public let urgency: ReviewUrgency
        public let decisionId: String?
        public let constitutionalHash: String
        let maskedAction: JSONValue
        let maskedContext: JSONValue
        let maskedReason: String?

        public init(
            requester: String, actingFor: Set<String> = [], input: JudgedInput, violations: [Violation], reason: String? = nil,
            urgency: ReviewUrgency = .normal, decisionId: String? = nil, constitutionalHash: String
        ) {
            self.requester = requester
            self.actingFor = actingFor
            self.input = input
            self.violations = violations
            self.reason = reason
            self.urgency = urgency
            self.decisionId = decisionId
            self.constitutionalHash = constitutionalHash
            maskedAction = Masking.mask(input.action)
            maskedContext = Masking.mask(input.context)
            maskedReason = reason.map(Masking.mask)
        }
    }

    /// Opens a request: scored, routed (approved at once below the fast-lane threshold), stored and audited.
    public nonisolated func open(_ opening: Opening) async throws -> ReviewRequest {
        try await commit([try await prepare(opening)], after: []).requests[0]
    }

    /// A request ready to be written: scored, routed, assigned when it waits, with its audit entries.
    public struct Prepared: Sendable {
        let opened: ReviewRequest
        let assigned: ReviewRequest?
        let events: [AuditEvent]
        var stored: ReviewRequest { assigned ?? opened }
    }

    /// The audit entries of a commit could not be written: nothing of it stands.
    public struct EntriesNotWritten: Error {
        public let underlying: any Error
    }

    /// Scores and routes a request without writing anything yet.
    public nonisolated func prepare(_ opening: Opening) async throws -> Prepared {
        let at = now()
        let history = try await recentHistory(of: opening.requester, at: at)
        let risk = RiskAssessment.assess(
            RiskInputs(violations: opening.violations, input: opening.input, recentDenials: history.denials, recentEscalations: history.escalations))
        let request = ReviewRequest(
            id: RandomIdentifier.timeOrdered(prefix: "rev_", hexDigits: 24), requester: opening.requester,
            actingFor: opening.actingFor.union(try await delegates(of: opening.requester)), action: opening.maskedAction, context: opening.maskedContext,
            reason: opening.maskedReason, urgency: opening.urgency, risk: risk,
            ruledByConstitution: opening.violations.contains { $0.effect != .warn }, decisionId: opening.decisionId,
            constitutionalHash: opening.constitutionalHash, policy: policy, at: at)
        // A waiting request is assigned before it is stored, so that it is written once; the two steps
        // (opened, assigned) are still two audit entries.
        let assigned = request.fastLane ? nil : await assignedCopy(of: request, at: at)
        var events = [event("opened", request, actor: opening.requester)]
        if let assigned { events.append(event("assigned", assigned, actor: "system")) }
        return Prepared(opened: request, assigned: assigned, events: events)
    }

    /// The request assigned to the least-loaded reviewer of its level, counted in that reviewer's
    /// load; nil when nobody can take it.
    private func assignedCopy(of request: ReviewRequest, at: Date) async -> ReviewRequest? {
        guard let reviewer = await leastLoadedReviewer(for: request) else { return nil }
        var candidate = request
        guard (try? candidate.assign(to: reviewer, policy: policy, at: at)) != nil else { return nil }
        assigneeLoad?.counts[reviewer.id, default: 0] += 1
        return candidate
    }

    /// Stores prepared requests and appends their entries after `leading` (the decisions that
    /// escalated, say) in one batch of the log, so that they share one commit. The requests and the
    /// entries are written at the same time; if the entries fail, the stored requests are withdrawn
    /// and `EntriesNotWritten` is thrown; if a request cannot be stored, the entries stand, a
    /// `withdrawn` entry follows, and the store's error is thrown. Returns the requests as stored and
    /// the indices of `leading`.
    public nonisolated func commit(_ prepared: [Prepared], after leading: [AuditEvent]) async throws -> (requests: [ReviewRequest], leadingIndices: [Int]) {
        let repository = repository
        let events = leading + prepared.flatMap(\.events)
        // The inserts start before the append and are awaited after it: the file writer can put
        // them in one transaction, and no task is started for them.
        let inserts = prepared.map { repository.beginInsert($0.stored) }
        let indices = await Self.result { try await self.audit.append(events) }
        var storeErrors: [(any Error)?] = []
        for insert in inserts { storeErrors.append(await Self.outcome { try await insert.value() }) }
        switch indices {
        case .failure(let auditError):
            for (p, error) in zip(prepared, storeErrors) where error == nil {
                var withdrawn = p.stored
                try? withdrawn.cancel(by: ReviewActor(id: p.opened.requester, roles: []), at: now())
                _ = try? await repository.update(withdrawn, expectedVersion: 1)
            }
            throw EntriesNotWritten(underlying: auditError)
        case .success(let indices):
            if let storeError = storeErrors.compactMap({ $0 }).first {
                for (p, error) in zip(prepared, storeErrors) where error != nil {
                    try? await record("withdrawn", p.opened, actor: "system", note: "the request could not be stored")
                }
                throw storeError
            }
            for p in prepared {
                metrics.recordReviewOpened(fastLane: p.opened.fastLane)
                publish(p.opened)
                if let assigned = p.assigned { publish(assigned) }
            }
            return (prepared.map(\.stored), Array(indices.prefix(leading.count)))
        }
    }

    /// Applies a step to a request: stores it, audits it (undoing it if the entry cannot be written),
    /// and wakes whoever waits on the request.
    public func apply(
        _ step: String, to id: String, by actor: String,
        _ change: (inout ReviewRequest, Date) throws -> Void
    ) async throws -> ReviewRequest {
        guard let stored = try await repository.find(id: id) else { throw ReviewStoreError.notFound(id) }
        var request = stored.request
        try change(&request, now())
        let version = try await repository.update(request, expectedVersion: stored.version)
        do {
            try await record(step, request, actor: actor)
        } catch {
            _ = try? await repository.update(stored.request, expectedVersion: version)
            throw error
        }
        wake(id)
        publish(request)
        if request.state.isFinal, !stored.request.state.isFinal {
            let elapsed = request.updatedAt.timeIntervalSince(request.createdAt)
            metrics.recordReviewFinished(state: request.state.rawValue, after: .milliseconds(Int64(max(0, elapsed) * 1000)))
        }
        return request
    }

    private nonisolated func delegates(of agent: String) async throws -> Set<String> {
        guard let delegates else { return [] }
        return try await delegateCache.value(for: agent) { try await delegates(agent) }
    }

    /// Assigns a waiting request to the active reviewer of its level with the fewest open requests
    /// (never the requester or anyone acting for it). Best effort: without a candidate, or if the
    /// step cannot be recorded, the request simply waits unassigned in the queue.
    private func assignLeastLoaded(_ request: ReviewRequest) async -> ReviewRequest {
        guard let chosen = await leastLoadedReviewer(for: request) else { return request }
        do {
            let assigned = try await apply("assigned", to: request.id, by: "system") { r, at in try r.assign(to: chosen, policy: self.policy, at: at) }
            assigneeLoad?.counts[chosen.id, default: 0] += 1
            return assigned
        } catch {
            logger.warning("could not assign a review request", metadata: ["review_id": "\(request.id)", "error.type": "\(type(of: error))"])
            return request
        }
    }

    /// The active reviewer of the request's level with the fewest open requests (never the requester
    /// or anyone acting for it); nil without a candidate or when the reviewers cannot be read.
    private func leastLoadedReviewer(for request: ReviewRequest) async -> ReviewActor? {
        guard reviewers != nil, request.assignee == nil else { return nil }
        do {
            let candidates = try await self.reviewers(holding: policy.policy(for: request.level).reviewerRoles)
                .filter { $0.id != request.requester && !request.actingFor.contains($0.id) }
            guard !candidates.isEmpty else { return nil }
            let load = try await openLoad(at: now())
            return candidates.min { (load[$0.id] ?? 0, $0.id) < (load[$1.id] ?? 0, $1.id) }
        } catch {
            logger.warning("could not assign a review request", metadata: ["review_id": "\(request.id)", "error.type": "\(type(of: error))"])
            return nil
        }
    }

    private func reviewers(holding roles: Set<String>) async throws -> [ReviewActor] {
        guard let reviewers else { return [] }
        return try await reviewerCache.value(for: roles) { try await reviewers(roles) }
    }

    private func openLoad(at now: Date) async throws -> [String: Int] {
        if let cached = assigneeLoad, cached.until > now { return cached.counts }
        // One read at a time: requests arriving meanwhile wait for it rather than each scanning the
        // open requests (on PostgreSQL, dozens of scans a second under load).
        let refresh = loadRefresh ?? Task { [repository] in try await repository.openCountsByAssignee() }
        loadRefresh = refresh
        do {
            let counts = try await refresh.value
            // The first to resume stores the snapshot; the others use it, with the assignments made since.
            guard loadRefresh == refresh else { return assigneeLoad?.counts ?? counts }
            loadRefresh = nil
            assigneeLoad = (counts, now.addingTimeInterval(1))
            return counts
        } catch {
            if loadRefresh == refresh { loadRefresh = nil }
            throw error
        }
    }

    /// Sets the queue-depth gauge from the store; called when metrics are read, so that the count
    /// (a scan of the open requests) is paid per scrape, not per step.
    public nonisolated func refreshQueueDepth() async {
        if let depth = try? await repository.openCount() { metrics.setReviewQueueDepth(depth) }
    }

    /// An agent's denials and escalations of the last 24 hours, read at most once a second per agent:
    /// an agent asking for oversight many times a second is scored on a history a second old at most.
    private nonisolated func recentHistory(of agent: String, at: Date) async throws -> (denials: Int, escalations: Int) {
        let log = log
        return try await historyCache.value(for: agent) {
            try await log.decisionCounts(actor: agent, since: AuditClock.milliseconds(at.addingTimeInterval(-24 * 3600)))
        }
    }

    /// Escalates or expires every request past its deadline; returns how many changed.
    @discardableResult
    public func enforceDeadlines() async throws -> Int {
        var changed = 0
        for id in try await repository.due(at: now(), limit: 500) {
            let before = try await repository.find(id: id)?.request.state
            let after = try await apply("deadline", to: id, by: "system") { request, at in
                request.enforceDeadline(policy: policy, at: at)
            }
            if after.state != before {
                changed += 1
                if after.state == .escalated { _ = await assignLeastLoaded(after) }
            }
        }
        return changed
    }

    /// Every change of `requester`'s requests from now on, until the stream is dropped.
    public nonisolated func subscribe(requester: String) -> AsyncStream<ReviewRequest> {
        let token = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: ReviewRequest.self, bufferingPolicy: .bufferingNewest(256))
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(requester, token) }
        subscribers.withLock { $0[requester, default: [:]][token] = continuation }
        return stream
    }

    private nonisolated func unsubscribe(_ requester: String, _ token: UUID) {
        subscribers.withLock { all in
            all[requester]?.removeValue(forKey: token)
            if all[requester]?.isEmpty == true { all[requester] = nil }
        }
    }

    private nonisolated func publish(_ request: ReviewRequest) {
        let subscribed = subscribers.withLock { $0[request.requester] ?? [:] }
        guard !subscribed.isEmpty || webhooks != nil else { return }
        for continuation in subscribed.values { continuation.yield(request) }
        if let webhooks, !webhooks.knownToHaveNoReceivers(request.requester) {
            let policy = policy
            Task { await webhooks.notify(request, policy: policy) }
        }
    }

    /// The current change mark; take it before reading a request that will be waited on.
    public func mark() -> Int { changes }

    /// Returns once the request changes after `mark`, or when `timeout` passes.
    public func waitForChange(of id: String, after mark: Int, timeout: Duration) async {
        if (lastChange[id] ?? 0) > mark { return }
        let token = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.register(id, token: token) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func register(_ id: String, token: UUID) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume()
                } else {
                    waiters[id, default: [:]][token] = continuation
                }
            }
        } onCancel: {
            Task { await self.dropWaiter(id, token) }
        }
    }

    private func dropWaiter(_ id: String, _ token: UUID) {
        waiters[id]?.removeValue(forKey: token)?.resume()
        if waiters[id]?.isEmpty == true { waiters[id] = nil }
    }

    private func wake(_ id: String) {
        changes += 1
        if lastChange.count > 100_000 { lastChange = [:] }  // bounded; a waiter then at worst waits its timeout
        lastChange[id] = changes
        for continuation in (waiters.removeValue(forKey: id) ?? [:]).values { continuation.resume() }
    }

    /// What `body` returned, or the error it threw.
    private static func result<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// The error `body` throws, or nil.
    private static func outcome(_ body: () async throws -> Void) async -> (any Error)? {
        do {
            try await body()
            return nil
        } catch {
            return error
        }
    }

    private nonisolated func record(_ step: String, _ r: ReviewRequest, actor: String, note: String? = nil) async throws {
        _ = try await audit.append(event(step, r, actor: actor, note: note))
    }

    /// A step's audit entry: the request's routing and risk; when opened, what it is about; for a
    /// decision, the vote (its reason masked); `note` says why the system took the step.
    private nonisolated func event(_ step: String, _ r: ReviewRequest, actor: String, note: String? = nil) -> AuditEvent {
        let opened = step == "opened"
        var payload = CanonicalObject(capacity: 768)
        if opened { payload.value("action", r.action) }
        payload.nullableString("assignee", r.assignee)
        payload.string("deadline", AuditClock.format(r.deadline))
        payload.string("event", step)
        if opened { payload.bool("fast_lane", r.fastLane) }
        payload.string("level", r.level.rawValue)
        if let note { payload.string("reason", note) }
        payload.string("review_id", r.id)
        payload.number("risk", r.risk.score)
        if opened { payload.objects("risk_factors", r.risk.factors) { factor, o in factor.write(into: &o) } }
        payload.string("state", r.state.rawValue)
        if opened { payload.string("urgency", r.urgency.rawValue) }
        if let vote = r.votes.last, step == "decision" {
            payload.object("vote") { o in
                o.nullableString("principle", vote.principle)
                o.string("reason", Masking.mask(vote.reason))
                o.string("reviewer", vote.reviewer)
                o.string("verdict", vote.verdict.rawValue)
            }
        }
        return AuditEvent(
            type: .review, actor: actor, constitutionalHash: r.constitutionalHash,
            subjects: [r.id, r.requester] + (r.decisionId.map { [$0] } ?? []), canonicalPayload: payload.text())
    }
}
