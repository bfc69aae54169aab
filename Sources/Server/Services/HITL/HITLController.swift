import AuditLog
import Foundation
import GovernanceCore
import Hummingbird
import Identity
import Storage

/// The Agent HITL service: agents ask for human review (or get it when a decision escalates),
/// reviewers work the queue, and agents learn the outcome, by long-poll if they wish.
struct HITLController {
    typealias Context = ACGSRequestContext
    let runtime: GovernanceRuntime
    var desk: ReviewDesk { runtime.reviews }

    static var maxBodyBytes: Int { 256 * 1024 }
    static let maxWaitSeconds = 60
    static let reviewerRoles: [Role] = [.reviewer, .policyAuthor, .councilMember, .admin]

    func addRoutes(to router: Router<Context>) {
        let agents = router.group("/api/v1").add(middleware: RequireRoles(.agent, .admin))
        agents.post("reviews", use: create)
        agents.post("oversight/request", use: oversightRequest)
        agents.get("reviews/events", use: events)
        agents.post("webhooks", use: createWebhook)
        agents.get("webhooks", use: listWebhooks)
        agents.delete("webhooks/:id", use: deleteWebhook)
        agents.get("webhooks/:id/deliveries", use: deliveries)
        let reviewers = router.group("/api/v1/reviews").add(middleware: RequireRoles(Self.reviewerRoles))
        reviewers.get("", use: queue)
        reviewers.post(":id/claim", use: claim)
        reviewers.post(":id/release", use: release)
        reviewers.post(":id/decision", use: decide)
        let involved = router.group("/api/v1/reviews").add(middleware: RequireRoles(Role.allCases))
        involved.get(":id", use: show)
        involved.post(":id/cancel", use: cancel)
        ReviewConsole(runtime: runtime).addRoutes(to: router)
    }

    // MARK: the agent's side

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let review = try await open(request, context: context)
        return JSONResponse.make(text: Self.encoded(review, policy: desk.policy), status: .created)
    }

    /// The ACGS-2 shape: `{oversight_id, status, estimated_response_time_minutes}`.
    @Sendable func oversightRequest(_ request: Request, context: Context) async throws -> Response {
        let review = try await open(request, context: context)
        let minutes = review.state.isFinal ? 0 : max(0, Int((review.deadline.timeIntervalSinceNow / 60).rounded(.up)))
        return JSONResponse.make(
            ["oversight_id": .string(review.id), "status": .string(review.state.rawValue), "estimated_response_time_minutes": .number(Double(minutes))],
            status: .created)
    }

    private func open(_ request: Request, context: Context) async throws -> ReviewRequest {
        let principal = try Self.principal(context)
        let body = try await request.jsonBytes(limit: Self.maxBodyBytes)
        let constitution = runtime.constitution
        // An agent asking again about the same action (the same bytes) is not parsed and judged again.
        let key = RequestBodyKey.make("opening", body: body, principal: principal, constitutionHash: constitution.hash)
        let opening: ReviewDesk.Opening
        if let cached = runtime.openings.get(key) {
            opening = cached
        } else {
            opening = try Self.opening(Request.parseJSON(body), principal: principal, constitution: constitution)
            runtime.openings.set(key, opening)
        }
        return try await store { try await desk.open(opening) }
    }

    /// A request's body, checked, with the action judged under the constitution.
    static func opening(_ json: JSONValue, principal: Principal, constitution: CompiledConstitution) throws -> ReviewDesk.Opening {
        let fields = try JSONFields(json, path: "", allowed: ["action", "content", "context", "reason", "urgency"])
        var subject: [String: JSONValue] = [:]
        for key in ["action", "content", "context"] { if let v = fields.fields[key] { subject[key] = v } }
        let reason = try fields.string("reason")
        var urgency = ReviewUrgency.normal
        if let text = try fields.string("urgency") {
            guard let parsed = ReviewUrgency(rawValue: text) else {
                throw APIError.badRequest(
                    "field 'urgency': expected one of \(ReviewUrgency.allCases.map(\.rawValue).joined(separator: ", "))", code: "invalid_json")
            }
            urgency = parsed
        }
        let (input, _) = try ValidateRequest(.object(subject)).judgedInput(agent: principal.asRuleInput, constitution: constitution, narrowing: false)
        return ReviewDesk.Opening(
            requester: principal.id, input: input, violations: constitution.evaluate(input).violations, reason: reason, urgency: urgency,
            constitutionalHash: constitution.hash)
    }

    /// A request, to its requester, to reviewers, admins and auditors; `?wait=N` holds the answer up to
    /// N seconds (at most 60) until the request is decided.
    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        let id = try context.parameters.require("id")
        let wait = try Query(request, allowed: ["wait"]).integer("wait", in: 0...Self.maxWaitSeconds) ?? 0
        let until = ContinuousClock.now + .seconds(wait)
        while true {
            let mark = await desk.mark()
            let review = try await visibleReview(id, to: principal)
            let remaining = until - ContinuousClock.now
            if review.state.isFinal || remaining <= .zero { return JSONResponse.make(text: Self.encoded(review, policy: desk.policy)) }
            await desk.waitForChange(of: id, after: mark, timeout: remaining)
        }
    }

    /// Server-sent events: each change of the caller's own requests, as `event: review` with the
    /// request as JSON; a comment every 15 s keeps proxies from closing a quiet stream.
    /// `?max_events=N` closes the stream after N events (for scripts and tests).
    @Sendable func events(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        let maxEvents = try Query(request, allowed: ["max_events"]).integer("max_events", in: 1...10_000)
        let updates = desk.subscribe(requester: principal.id)
        let policy = desk.policy
        let (frames, output) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(256))
        let forward = Task {
            var sent = 0
            for await review in updates {
                output.yield("id: \(review.id)\nevent: review\ndata: \(Self.encoded(review, policy: policy))\n\n")
                sent += 1
                if let maxEvents, sent >= maxEvents { break }
            }
            output.finish()
        }
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(15))
                output.yield(": keep-alive\n\n")
            }
        }
        output.onTermination = { _ in
            forward.cancel()
            heartbeat.cancel()
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                // The stream opens with a comment so that clients see it established at once.
                try await writer.write(ByteBuffer(string: ": connected\n\n"))
                for await frame in frames { try await writer.write(ByteBuffer(string: frame)) }
                try await writer.finish(nil)
            })
    }

    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        try await request.emptyJSONObjectBody()
        let id = try context.parameters.require("id")
        // Someone who may not see the request learns nothing from trying to cancel it either.
        _ = try await visibleReview(id, to: principal)
        let review = try await step("cancelled", id, principal) { r, at in try r.cancel(by: Self.actor(principal), at: at) }
        return JSONResponse.make(text: Self.encoded(review, policy: desk.policy))
    }

    // MARK: webhooks

    /// `{url, secret, agent_id}`: an agent registers for its own requests; an admin for one agent's
    /// (`agent_id`) or every agent's. The secret is generated when not given, and shown only here.
    @Sendable func createWebhook(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        let body = try JSONFields(try await request.jsonBody(limit: 8 * 1024), path: "", allowed: ["url", "secret", "agent_id"])
        let url = try body.string("url", required: true) ?? ""
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false else {
            throw APIError.badRequest("field 'url': an absolute http or https URL is expected", code: "invalid_request")
        }
        let secret = try body.string("secret") ?? Credentials.random(32)
        guard secret.utf8.count >= 16 else { throw APIError.badRequest("field 'secret': at least 16 characters", code: "invalid_request") }
        var agentId: String? = principal.id
        if principal.roles.contains(.admin) {
            agentId = try body.string("agent_id")
        } else if let asked = try body.string("agent_id"), asked != principal.id {
            throw APIError(.forbidden, code: "forbidden", message: "an agent registers webhooks for its own requests only")
        }
        let hook = WebhookRecord(
            id: "whk_" + Credentials.random(20), agentId: agentId, url: url, secret: secret, createdBy: principal.id, createdAt: Date())
        guard let webhooks = desk.webhooks else { throw APIError.unavailable("webhooks are not configured", code: "webhooks_unavailable") }
        do {
            try await webhooks.checkDestination(parsed)
        } catch {
            throw APIError.badRequest(
                "field 'url': \(error); webhooks deliver to public addresses only, unless the deployment sets webhooks.allow_private_networks",
                code: "webhook_destination_refused")
        }
        try await store { try await webhooks.repository.insert(hook) }
        webhooks.webhooksChanged()
        try await store {
            _ = try await runtime.auditLog.append(
                AuditEvent(
                    type: .review, actor: principal.id, constitutionalHash: runtime.activeHash, subjects: [hook.id] + (agentId.map { [$0] } ?? []),
                    payload: ["event": "webhook_registered", "url": .string(Masking.mask(url)), "agent_id": agentId.map(JSONValue.string) ?? .null]))
        }
        var json = Self.json(hook)
        if case .object(var fields) = json {
            fields["secret"] = .string(secret)
            json = .object(fields)
        }
        return JSONResponse.make(json, status: .created)
    }

    @Sendable func listWebhooks(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        guard let webhooks = desk.webhooks else { return JSONResponse.make(["webhooks": []]) }
        let hooks = try await store { try await webhooks.repository.list(agentId: principal.roles.contains(.admin) ? nil : principal.id) }
        return JSONResponse.make(["webhooks": .array(hooks.map(Self.json))])
    }

    @Sendable func deleteWebhook(_ request: Request, context: Context) async throws -> Response {
        let hook = try await ownedWebhook(context)
        _ = try await store { try await desk.webhooks?.repository.delete(id: hook.id) }
        desk.webhooks?.webhooksChanged()
        return Response(status: .noContent)
    }

    @Sendable func deliveries(_ request: Request, context: Context) async throws -> Response {
        let hook = try await ownedWebhook(context)
        let log = try await store { try await desk.webhooks?.repository.deliveries(webhookId: hook.id, limit: 200) ?? [] }
        return JSONResponse.make([
            "deliveries": .array(
                log.map { d in
                    [
                        "id": .string(d.id), "review_id": .string(d.reviewId), "state": .string(d.state), "attempt": .number(Double(d.attempt)),
                        "status": d.status.map { .number(Double($0)) } ?? .null, "error": d.error.map(JSONValue.string) ?? .null,
                        "succeeded": .bool(d.succeeded), "at": .string(AuditClock.format(d.at)),
                    ]
                })
        ])
    }

    /// The webhook named in the path, if the caller may manage it (its agent, or an admin).
    private func ownedWebhook(_ context: Context) async throws -> WebhookRecord {
        let principal = try Self.principal(context)
        let id = try context.parameters.require("id")
        let hook = try await store { try await desk.webhooks?.repository.find(id: id) }
        guard let hook, principal.roles.contains(.admin) || hook.agentId == principal.id else {
            throw APIError(.notFound, code: "not_found", message: "no webhook \(id)")
        }
        return hook
    }

    static func json(_ hook: WebhookRecord) -> JSONValue {
        [
            "id": .string(hook.id), "url": .string(hook.url), "agent_id": hook.agentId.map(JSONValue.string) ?? .null,
            "created_by": .string(hook.createdBy), "created_at": .string(AuditClock.format(hook.createdAt)),
        ]
    }

    // MARK: the reviewers' side

    @Sendable func queue(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        let parameters = try Query(request, allowed: ["status", "level", "assigned_to", "limit"])
        var query = ReviewQuery(states: [.pending, .inReview, .escalated])
        if let states = try parameters.choices("status", as: ReviewState.self) { query.states = Set(states) }
        query.level = try parameters.choice("level", as: EscalationLevel.self)
        query.assignee = parameters.values["assigned_to"].map { $0 == "me" ? principal.id : $0 }
        query.limit = try parameters.integer("limit", in: 1...500) ?? query.limit
        let reviews = try await store { try await desk.repository.list(query) }
        let policy = desk.policy
        var list = CanonicalObject(capacity: 1024 * reviews.count + 32)
        list.number("count", Double(reviews.count))
        list.objects("reviews", reviews) { review, o in Self.write(review, policy: policy, into: &o) }
        return JSONResponse.make(text: list.text())
    }

    @Sendable func claim(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        try await request.emptyJSONObjectBody()
        let policy = desk.policy
        let review = try await step("claimed", try context.parameters.require("id"), principal) { r, at in
            try r.claim(by: Self.actor(principal), policy: policy, at: at)
        }
        return JSONResponse.make(text: Self.encoded(review, policy: policy))
    }

    @Sendable func release(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        try await request.emptyJSONObjectBody()
        let review = try await step("released", try context.parameters.require("id"), principal) { r, at in
            try r.release(by: Self.actor(principal), at: at)
        }
        return JSONResponse.make(text: Self.encoded(review, policy: desk.policy))
    }

    @Sendable func decide(_ request: Request, context: Context) async throws -> Response {
        let principal = try Self.principal(context)
        let body = try JSONFields(
            try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["decision", "reason", "principle", "changed_arguments"])
        let name = try body.string("decision", required: true) ?? ""
        guard let verdict = ReviewVerdict(rawValue: name) else {
            throw APIError.badRequest("field 'decision': expected approve, deny or request_changes", code: "invalid_json")
        }
        let vote = ReviewVote(
            reviewer: principal.id, verdict: verdict, reason: try body.string("reason", required: true) ?? "", principle: try body.string("principle"),
            changedArguments: try body.object("changed_arguments").map(JSONValue.object), level: .technicalReview, at: Date())
        let policy = desk.policy
        let review = try await step("decision", try context.parameters.require("id"), principal) { r, at in
            try r.decide(vote, by: Self.actor(principal), policy: policy, at: at)
        }
        return JSONResponse.make(text: Self.encoded(review, policy: policy))
    }

    // MARK: helpers

    private func step(
        _ name: String, _ id: String, _ principal: Principal, _ change: @escaping @Sendable (inout ReviewRequest, Date) throws -> Void
    ) async throws -> ReviewRequest {
        do {
            return try await desk.apply(name, to: id, by: principal.id, change)
        } catch let error as ReviewError {
            throw Self.apiError(error)
        } catch ReviewStoreError.notFound {
            throw APIError(.notFound, code: "not_found", message: "no review request \(id)")
        } catch ReviewStoreError.versionConflict {
            throw APIError(.conflict, code: "conflict", message: "the request changed meanwhile; read it again and retry")
        } catch {
            runtime.logger.error("review store or audit log unavailable", metadata: ["error.type": "\(type(of: error))"])
            throw APIError.unavailable("the review step could not be recorded; retry later", code: "review_store_unavailable")
        }
    }

    /// The request, if `principal` may see it: its requester, reviewers, admins and auditors. To
    /// anyone else, someone else's request is not even acknowledged to exist.
    private func visibleReview(_ id: String, to principal: Principal) async throws -> ReviewRequest {
        let review = try await find(id)
        guard review.requester == principal.id || principal.has(anyOf: Set(Self.reviewerRoles + [.auditor])) else {
            throw APIError(.notFound, code: "not_found", message: "no review request \(id)")
        }
        return review
    }

    private func find(_ id: String) async throws -> ReviewRequest {
        guard let stored = try await store({ try await desk.repository.find(id: id) }) else {
            throw APIError(.notFound, code: "not_found", message: "no review request \(id)")
        }
        return stored.request
    }

    private func store<T>(_ body: () async throws -> T) async throws -> T {
        try await APIError.unavailableOnFailure(
            code: "review_store_unavailable", message: "the review store cannot be used now; retry later", logger: runtime.logger, body)
    }

    static func principal(_ context: Context) throws -> Principal {
        guard let principal = context.principal else { throw AuthenticationMiddleware.unauthorized("authentication required", error: nil) }
        return principal
    }

    static func actor(_ principal: Principal) -> ReviewActor {
        ReviewActor(id: principal.id, roles: Set(principal.roles.map(\.rawValue)))
    }

    static func apiError(_ error: ReviewError) -> APIError {
        switch error {
        case .illegalTransition(let from, let to):
            APIError(.conflict, code: "illegal_transition", message: "a request that is \(from.rawValue) cannot become \(to.rawValue)")
        case .claimedByAnother:
            APIError(.conflict, code: "claimed", message: "another reviewer holds this request")
        case .alreadyVoted:
            APIError(.conflict, code: "already_decided", message: "you have already decided this request at this level; a quorum counts distinct reviewers")
        case .ownRequest:
            APIError(.forbidden, code: "own_request", message: "the requesting agent, or anyone acting for it, cannot review or withdraw this request")
        case .notAReviewerAtThisLevel(let level):
            APIError(.forbidden, code: "wrong_level", message: "your roles do not review requests at the \(level.rawValue) level")
        case .reasonRequired:
            APIError.badRequest("field 'reason': a decision needs a reason", code: "invalid_request")
        case .principleRequired:
            APIError.badRequest("field 'principle': a council approval names the principle it rests on", code: "invalid_request")
        case .changesRequired:
            APIError.badRequest("field 'changed_arguments': request_changes says which arguments to change", code: "invalid_request")
        }
    }

    /// A request as the API answers it (and webhooks and the event stream carry it), in canonical
    /// JSON: the agent's and the reviewers' view.
    static func encoded(_ r: ReviewRequest, policy: ReviewPolicy) -> String {
        var o = CanonicalObject(capacity: 1024)
        write(r, policy: policy, into: &o)
        return o.text()
    }

    static func write(_ r: ReviewRequest, policy: ReviewPolicy, into o: inout CanonicalObject) {
        o.value("action", r.action)
        o.strings("approvals", r.approvals.sorted())
        o.number("approvals_required", Double(policy.policy(for: r.level).approvalsRequired))
        o.nullableString("assignee", r.assignee)
        o.string("constitutional_hash", r.constitutionalHash)
        o.value("context", r.context)
        o.string("created_at", AuditClock.format(r.createdAt))
        o.string("deadline", AuditClock.format(r.deadline))
        o.nullableString("decision_id", r.decisionId)
        o.bool("fast_lane", r.fastLane)
        o.string("id", r.id)
        o.string("level", r.level.rawValue)
        o.nullableString("reason", r.reason)
        o.string("requester", r.requester)
        o.object("risk") { r.risk.write(into: &$0) }
        o.string("state", r.state.rawValue)
        o.string("updated_at", AuditClock.format(r.updatedAt))
        o.string("urgency", r.urgency.rawValue)
        o.objects("votes", r.votes) { v, vote in
            vote.string("at", AuditClock.format(v.at))
            vote.value("changed_arguments", v.changedArguments ?? .null)
            vote.string("decision", v.verdict.rawValue)
            vote.string("level", v.level.rawValue)
            vote.nullableString("principle", v.principle)
            vote.string("reason", v.reason)
            vote.string("reviewer", v.reviewer)
        }
    }
}
