import Cache
import Crypto
import Foundation
import GovernanceCore
import Logging
import Storage

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Delivers each state change of a review request to the webhooks that receive its agent's requests,
/// as JSON signed with HMAC-SHA256 over `"<timestamp>.<body>"` (headers `X-ACGS-Timestamp` and
/// `X-ACGS-Signature: sha256=<hex>`), so that a receiver can check the sender and reject replays.
/// A failed delivery is retried with backoff; every attempt goes into the delivery log. Each webhook
/// receives its changes in order, one at a time. Changes wait in a stored outbox until delivered or
/// given up.
///
/// Replicas share the outbox (on PostgreSQL), so each item is claimed by the replica that delivers
/// it, for `lease` at a time, renewed by `maintain()` while the replica lives. `resume()` at start
/// and `maintain()` afterwards take up the items nobody holds: those left when the server last
/// stopped, and those of a replica that died. An item held by a replica that keeps renewing is
/// delivered by that replica alone.
public actor WebhookDispatcher {
    public nonisolated let repository: any WebhookRepository
    /// This dispatcher's name on the claims it holds.
    public nonisolated let replica = RandomIdentifier.make(prefix: "rep_", hexDigits: 16)
    public nonisolated let lease: Duration
    /// Whether webhooks may deliver inside private networks (see `WebhookDestination`).
    public nonisolated let allowsPrivateNetworks: Bool
    private let backoff: [Duration]
    private let timeout: TimeInterval
    private let logger: Logger
    private let session: URLSession
    private var queues: [String: AsyncStream<Job>.Continuation] = [:]
    /// Items queued here and not yet delivered or given up: a claim taken again is not queued twice.
    private var queued: Set<String> = []

    struct Job: Sendable {
        var webhook: WebhookRecord
        var item: WebhookOutboxItem
    }

    /// `backoff` is the wait before each retry: five attempts by default, over about half a minute.
    /// `lease`: how long a claim lasts unless renewed; `maintain()` should run every third of it.
    /// `allowsPrivateNetworks`: deliver to loopback, private and link-local addresses too.
    public init(
        repository: any WebhookRepository, backoff: [Duration] = [.seconds(1), .seconds(2), .seconds(5), .seconds(15)], timeout: TimeInterval = 5,
        lease: Duration = .seconds(60), allowsPrivateNetworks: Bool = false, logger: Logger = Logger(label: "acgs.webhooks")
    ) {
        self.repository = repository
        self.lease = lease
        self.allowsPrivateNetworks = allowsPrivateNetworks
        self.backoff = backoff
        self.timeout = timeout
        self.logger = logger
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        self.session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    /// Refuses a destination this deployment does not deliver to.
    nonisolated func checkDestination(_ url: URL) async throws(WebhookDestination.Refusal) {
        if !allowsPrivateNetworks { try await WebhookDestination.check(url) }
    }

    /// Each agent's receivers, read at most once a second: every state change of every request needs
    /// them, and they change rarely. This replica's own registrations clear it at once; another
    /// replica's are seen within the second. Outside the actor (the cache has its own lock), so that
    /// a change of an agent known to have no receiver costs the desk nothing (no task, no hop).
    private let receiverCache = LRUCache<String, [WebhookRecord]>(capacity: 10_000, ttl: .seconds(1))

    /// A webhook was registered or removed here.
    public nonisolated func webhooksChanged() {
        receiverCache.removeAll()
    }

    /// True when the agent was seen within the second to have no receiver.
    public nonisolated func knownToHaveNoReceivers(_ agent: String) -> Bool {
        receiverCache.get(agent)?.isEmpty == true
    }

    private func receivers(of agent: String) async throws -> [WebhookRecord] {
        let repository = repository
        return try await receiverCache.value(for: agent) { try await repository.receivers(of: agent) }
    }

    /// Queues the change for every webhook that receives the request's agent.
    public func notify(_ request: ReviewRequest, policy: ReviewPolicy) async {
        let receivers: [WebhookRecord]
        do {
            receivers = try await self.receivers(of: request.requester)
        } catch {
            logger.error("webhook store unavailable; a change was not delivered", metadata: ["review_id": "\(request.id)"])
            return
        }
        // Most agents have no webhook: nothing to render.
        guard !receivers.isEmpty else { return }
        var update = CanonicalObject(capacity: 1100)
        update.string("event", "review.updated")
        update.object("review") { HITLController.write(request, policy: policy, into: &$0) }
        let body = update.text()
        let jobs = receivers.map { hook in
            Job(
                webhook: hook,
                item: WebhookOutboxItem(
                    id: RandomIdentifier.timeOrdered(prefix: "dlv_", hexDigits: 24), webhookId: hook.id,
                    reviewId: request.id, state: request.state.rawValue, body: body, createdAt: Date()))
        }
        do {
            try await repository.enqueue(jobs.map(\.item), claim: claim())
        } catch {
            logger.error("webhook outbox unavailable; a change was not queued", metadata: ["review_id": "\(request.id)"])
            return
        }
        for job in jobs { enqueue(job) }
    }

    /// Takes up the stored outbox at start: changes not yet delivered when the server last stopped,
    /// and any a dead replica held. On an outbox shared with live replicas, their items stay theirs
    /// (and this server's own from its last run are taken up once their claims expire).
    public func resume() async throws {
        try await takeUnclaimed(asOf: repository.isShared ? Date() : .distantFuture)
    }

    /// Renews this replica's claims and takes up items whose holder stopped renewing (it died).
    public func maintain() async throws {
        try await repository.renew(claim())
        try await takeUnclaimed()
    }

    private func claim() -> OutboxClaim {
        OutboxClaim(owner: replica, until: Date().addingTimeInterval(lease.seconds))
    }

    private func takeUnclaimed(asOf now: Date = Date()) async throws {
        for item in try await repository.take(claim(), now: now) where !queued.contains(item.id) {
            guard let hook = try await repository.find(id: item.webhookId) else {
                try await repository.dequeue(item.id)  // the webhook was deleted meanwhile
                continue
            }
            enqueue(Job(webhook: hook, item: item))
        }
    }

    private func enqueue(_ job: Job) {
        queued.insert(job.item.id)
        queue(for: job.webhook).yield(job)
    }

    private func queue(for hook: WebhookRecord) -> AsyncStream<Job>.Continuation {
        if let existing = queues[hook.id] { return existing }
        let (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        queues[hook.id] = continuation
        Task { for await job in stream { await self.deliver(job) } }
        return continuation
    }

    private func deliver(_ job: Job) async {
        let item = job.item
        var attempt = item.attempts
        while attempt <= backoff.count {
            // A retry after a restart waits its backoff too.
            if attempt > 0 { try? await Task.sleep(for: backoff[attempt - 1]) }
            attempt += 1
            let (status, failure) = await send(job, delivery: item.id)
            let record = WebhookDelivery(
                id: item.id, webhookId: job.webhook.id, reviewId: item.reviewId, state: item.state, attempt: attempt, status: status,
                error: failure, at: Date())
            try? await repository.log(record)
            if record.succeeded {
                try? await repository.dequeue(item.id)
                queued.remove(item.id)
                return
            }
            try? await repository.attempted(item.id, attempts: attempt)
        }
        try? await repository.dequeue(item.id)
        queued.remove(item.id)
        logger.warning("webhook delivery abandoned after retries", metadata: ["webhook_id": "\(job.webhook.id)", "review_id": "\(item.reviewId)"])
    }

    private func send(_ job: Job, delivery: String) async -> (Int?, String?) {
        guard let url = URL(string: job.webhook.url) else { return (nil, "invalid URL") }
        // Checked again at each delivery: the name may resolve elsewhere than at registration.
        do { try await checkDestination(url) } catch { return (nil, "destination refused: \(error)") }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        let timestamp = String(Int(Date().timeIntervalSince1970))
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(timestamp, forHTTPHeaderField: "X-ACGS-Timestamp")
        request.setValue(Self.signature(secret: job.webhook.secret, timestamp: timestamp, body: job.item.body), forHTTPHeaderField: "X-ACGS-Signature")
        request.setValue(delivery, forHTTPHeaderField: "X-ACGS-Delivery")
        request.httpBody = Data(job.item.body.utf8)
        do {
            let (_, response) = try await session.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode, nil)
        } catch {
            return (nil, "\(type(of: error))")
        }
    }

    /// `sha256=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"` under the webhook's secret.
    public static func signature(secret: String, timestamp: String, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + "." + body).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}

/// A redirect is not followed: it could lead a delivery to an address the destination check refuses.
/// The 3xx answer is the delivery's status, a failure.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
