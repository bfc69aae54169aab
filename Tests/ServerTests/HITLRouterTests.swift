import AuditLog
import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Identity
import Storage
import Testing

@testable import Server

/// HITL helpers: calls to the Agent HITL service with a given credential.
extension Harness {
    func hitl(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: String? = nil) async throws -> TestResponse {
        try await test(service: .agentHITL) { client in
            try await client.execute(
                uri: path, method: method, headers: headers(bearer: token.map { .some($0) } ?? .none), body: body.map { ByteBuffer(json: $0) })
        }
    }
}

@Suite("Agent HITL service")
struct HITLRouterTests {
    static let productionDeploy = #"{"action": {"type": "deploy", "tool": "kubectl"}, "context": {"environment": "production"}}"#
    /// No rule matches, but a large irreversible transfer is worth a technical review (risk 0.475).
    static let transfer: String = #"{"action": {"type": "tool_call", "tool": "bank"}, "context": {"amount": 20000, "irreversible": true}}"#

    @Test func anEscalatedDecisionOpensAReviewTheAgentCanFollow() async throws {
        let h = try await Harness()
        let decision = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: Self.productionDeploy))
        }
        #expect(decision.json["decision"] == "escalate")
        let reviewId = try #require(decision.json["review_id"].stringValue)
        let review = try await h.hitl(.get, "/api/v1/reviews/\(reviewId)")
        #expect(review.status == .ok)
        #expect(review.json["decision_id"] == decision.json["decision_id"])
        #expect(review.json["requester"] == .string(h.agent.id))
        let factors = review.json["risk"]["factors"].arrayValue?.compactMap { $0["name"].stringValue } ?? []
        #expect(factors.contains("rule") && factors.contains("production"), "\(factors)")
        #expect(review.json["state"] == "pending")
        // An escalating high-severity rule (0.4) in production (0.25): 1 - 0.6 × 0.75 = 0.55.
        #expect(review.json["risk"]["score"].numberValue.map { abs($0 - 0.55) < 1e-9 } == true, "\(review.json["risk"])")
        #expect(review.json["level"] == "policy_manager")
    }

    @Test func anEscalationsDecisionAndReviewStepsAreConsecutiveEntries() async throws {
        let h = try await Harness()
        let reviewer = try await h.signIn(roles: [.policyAuthor, .reviewer]).0
        let decision = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: Self.productionDeploy))
        }
        let index = try #require(decision.json["audit_index"].numberValue.map { Int($0) })
        let entries = try await h.audit.entries(AuditEntryQuery(limit: 10)).filter { $0.index >= index }.map { try AuditEntry(text: $0.text) }
        #expect(entries.count == 3)
        #expect(entries.map(\.event.type) == [.decision, .review, .review])
        let steps = entries.dropFirst().map { (try? JSONValue.parse($0.event.payload))?["event"].stringValue ?? "" }
        #expect(steps == ["opened", "assigned"])
        let assigned = try JSONValue.parse(entries[2].event.payload)
        #expect(assigned["assignee"] == .string(reviewer.id) && assigned["review_id"] == decision.json["review_id"])
    }

    @Test(.enabled(if: TestStore.canInjectFailures, "needs a store that fails on demand"))
    func anEscalationThatCannotBeRecordedLeavesNoReviewWaiting() async throws {
        let h = try await Harness()
        // Reads work (the agent's history), so the escalation gets as far as writing.
        await h.setAuditWritesFailing(true)
        let refused = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: Self.productionDeploy))
        }
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.errorCode == "audit_log_unavailable")
        #expect(refused.json["decision"] == .null && refused.json["review_id"] == .null)
        await h.setAuditWritesFailing(false)
        #expect(try await h.runtime.reviews.repository.openCount() == 0, "the request stored beside the failed entries is withdrawn")
    }

    @Test func aLowRiskRequestTakesTheFastLane() async throws {
        let h = try await Harness()
        let created = try await h.hitl(.post, "/api/v1/reviews", body: #"{"action": {"type": "file_read", "tool": "cat"}, "reason": "read a log"}"#)
        #expect(created.status == .created)
        #expect(created.json["state"] == "approved")
        #expect(created.json["fast_lane"] == true)
        let oversight = try await h.hitl(.post, "/api/v1/oversight/request", body: Self.productionDeploy)
        #expect(oversight.status == .created)
        #expect(oversight.json["status"] == "pending")
        #expect(oversight.json["oversight_id"].stringValue?.hasPrefix("rev_") == true)
        #expect((oversight.json["estimated_response_time_minutes"].numberValue ?? 0) > 0)
    }

    /// The fast lane approves without a person, so an action the constitution escalates waits for one
    /// even when its risk is below the fast lane's threshold (one medium rule: 0.2 < 0.3). Before, the
    /// review that such an escalation opened was approved at once, and the escalation meant nothing.
    @Test func anActionTheConstitutionEscalatesNeverTakesTheFastLane() async throws {
        let h = try await Harness()
        let body = #"{"action": {"type": "upload", "tool": "dropbox", "arguments": {"path": "report.pdf"}}}"#
        let decision = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(decision.json["decision"] == "escalate")
        #expect(decision.json["violations"][0]["rule_id"] == "outside-upload")
        let reviewId = try #require(decision.json["review_id"].stringValue)
        let review = try await h.hitl(.get, "/api/v1/reviews/\(reviewId)")
        #expect(review.json["risk"]["score"].numberValue.map { abs($0 - 0.2) < 1e-9 } == true, "\(review.json["risk"])")
        #expect(review.json["state"] == "pending")
        #expect(review.json["level"] == "technical_review")
        let asked = try await h.hitl(.post, "/api/v1/reviews", body: body)
        #expect(asked.status == .created)
        #expect(asked.json["state"] == "pending")
        #expect(asked.json["fast_lane"] == false)
    }

    /// A body seen before is not judged again (the opening is cached by its bytes and the agent), but
    /// each request is still its own review, and another agent's identical body is its own request.
    @Test func theSameRequestAskedAgainOpensItsOwnReviewJudgedAlike() async throws {
        let h = try await Harness()
        let body = #"{"action": {"type": "file_read", "tool": "cat", "arguments": {"path": "/var/log/app.log"}}, "reason": "read a log"}"#
        let first = try await h.hitl(.post, "/api/v1/reviews", body: body)
        let second = try await h.hitl(.post, "/api/v1/reviews", body: body)
        #expect(first.status == .created && second.status == .created)
        #expect(first.json["id"] != second.json["id"])
        for field in ["action", "reason", "risk", "state", "requester"] { #expect(first.json[field] == second.json[field], "\(field)") }
        #expect(second.json["requester"].stringValue == h.agent.id)
        let other = try await h.auth.createAgent(name: "other", owner: "tests", by: nil)
        let key = try await h.auth.createAPIKey(agentId: other.id, expiresAt: nil, by: nil).key
        let theirs = try await h.hitl(.post, "/api/v1/reviews", token: key, body: body)
        #expect(theirs.json["requester"].stringValue == other.id)
        // A malformed body is refused each time it comes, never remembered as valid.
        for _ in 0..<2 { #expect(try await h.hitl(.post, "/api/v1/reviews", body: #"{"action": {"type": "file_read"}, "urgency": "asap"}"#).status == .badRequest) }
        // The answer is the request in canonical JSON.
        #expect(CanonicalJSON.encode(first.json) == String(buffer: first.body))
    }

    @Test func aReviewerApprovesAndTheWaitingAgentLearnsAtOnce() async throws {
        let h = try await Harness(authEventsToAuditLog: true)
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", body: Self.transfer).json["id"].stringValue)
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        // The long-poll waits up to its maximum, well beyond the bound below, which is loose because the whole
        // suite shares two cores with this test.
        async let waited = h.hitl(.get, "/api/v1/reviews/\(id)?wait=60")
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        let claimed = try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: reviewer)
        #expect(claimed.json["state"] == "in_review")
        let approved = try await h.hitl(
            .post, "/api/v1/reviews/\(id)/decision", token: reviewer, body: #"{"decision": "approve", "reason": "within the change window"}"#)
        #expect(approved.status == .ok)
        #expect(approved.json["state"] == "approved")
        let outcome = try await waited
        #expect(outcome.json["state"] == "approved")
        #expect(ContinuousClock.now - start < .seconds(45), "the long-poll returns on the decision, not at its timeout")
        // Every step is an audit entry.
        let steps = try await h.audit.entries(AuditEntryQuery(limit: 1_000, type: .review)).compactMap {
            try? JSONValue.parse(AuditEntry(text: $0.text).event.payload)["event"].stringValue
        }
        #expect(steps == ["opened", "claimed", "decision"])
    }

    @Test func theAgentsEventStreamCarriesEachChangeOfItsOwnRequests() async throws {
        let h = try await Harness()
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        let other = try await h.auth.createAgent(name: "other", owner: "tests", by: nil)
        let otherKey = try await h.auth.createAPIKey(agentId: other.id, expiresAt: nil, by: nil).key
        let stream = try await h.test(service: .agentHITL) { client in
            async let events = client.execute(uri: "/api/v1/reviews/events?max_events=3", method: .get, headers: h.headers())
            try await Task.sleep(for: .milliseconds(300))
            // Another agent's request is not in this stream.
            _ = try await client.execute(uri: "/api/v1/reviews", method: .post, headers: h.headers(bearer: .some(otherKey)), body: ByteBuffer(json: Self.transfer))
            let created = try await client.execute(uri: "/api/v1/reviews", method: .post, headers: h.headers(), body: ByteBuffer(json: Self.transfer))
            let id = created.json["id"].stringValue ?? ""
            _ = try await client.execute(
                uri: "/api/v1/reviews/\(id)/decision", method: .post, headers: h.headers(bearer: .some(reviewer)),
                body: ByteBuffer(json: #"{"decision": "deny", "reason": "no change window"}"#))
            return try await events
        }
        #expect(stream.status == .ok)
        #expect(stream.headers[.contentType]?.hasPrefix("text/event-stream") == true)
        let text = String(buffer: stream.body)
        let events = text.split(separator: "\n").filter { $0.hasPrefix("data: ") }.compactMap { try? JSONValue.parse(String($0.dropFirst(6))) }
        // Opened, assigned to the only reviewer, denied.
        #expect(events.map { $0["state"].stringValue ?? "" } == ["pending", "pending", "denied"], "\(text)")
        #expect(events.count == 3 && events[0]["assignee"] == .null && events[1]["assignee"] != .null)
        #expect(!text.contains(other.id))
    }

    @Test func queueDepthLanesAndOutcomesAreMetrics() async throws {
        let h = try await Harness()
        _ = try await h.hitl(.post, "/api/v1/reviews", body: #"{"action": {"type": "file_read"}}"#)
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", body: Self.transfer).json["id"].stringValue)
        _ = try await h.hitl(.post, "/api/v1/reviews", body: Self.transfer)
        // The queue depth is counted when the metrics are read.
        var text = String(buffer: try await h.hitl(.get, "/metrics").body)
        #expect(text.contains(#"acgs_review_requests_total{lane="fast"} 1"#))
        #expect(text.contains(#"acgs_review_requests_total{lane="queued"} 2"#))
        #expect(text.contains("acgs_review_queue_depth 2"))
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        _ = try await h.hitl(.post, "/api/v1/reviews/\(id)/decision", token: reviewer, body: #"{"decision": "deny", "reason": "no change window"}"#)
        text = String(buffer: try await h.hitl(.get, "/metrics").body)
        #expect(text.contains(#"acgs_review_outcomes_total{state="denied"} 1"#))
        #expect(text.contains("acgs_review_queue_depth 1"))
        #expect(text.contains("acgs_review_time_to_decision_seconds_count 1"))
    }

    @Test func theRequesterNeverReviewsItsOwnRequest() async throws {
        let h = try await Harness()
        let (_, admin) = try await h.signIn(roles: [.admin])
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", token: admin, body: Self.productionDeploy).json["id"].stringValue)
        let own = try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: admin)
        #expect(own.status == .forbidden)
        #expect(own.errorCode == "own_request")
        #expect(try await h.hitl(.get, "/api/v1/reviews", token: h.agentKey).status == .forbidden, "agents do not see the queue")
    }

    @Test func theAgentsOwnerActsForItAndCannotReviewItsRequests() async throws {
        let h = try await Harness()
        let (owner, ownerToken) = try await h.signIn(roles: [.reviewer], username: "rita")
        let agent = try await h.auth.createAgent(name: "ritas-bot", owner: "rita", by: nil)
        let key = try await h.auth.createAPIKey(agentId: agent.id, expiresAt: nil, by: nil).key
        let created = try await h.hitl(.post, "/api/v1/reviews", token: key, body: Self.transfer)
        #expect(created.json["assignee"] == .null, "never assigned to the owner")
        let id = try #require(created.json["id"].stringValue)
        let claimed = try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: ownerToken)
        #expect(claimed.status == .forbidden && claimed.errorCode == "own_request", "\(owner.id)")
    }

    @Test func theCouncilDecidesByAQuorumOfDistinctMembers() async throws {
        let h = try await Harness()
        let risky = #"{"action": {"type": "payment", "tool": "bank"}, "context": {"environment": "production", "amount": 500000, "irreversible": true, "destination": "external"}}"#
        let created = try await h.hitl(.post, "/api/v1/reviews", body: risky)
        #expect(created.json["level"] == "constitutional_council", "\(created.json["risk"])")
        let id = try #require(created.json["id"].stringValue)
        let a = try await h.signIn(roles: [.councilMember]).1
        let b = try await h.signIn(roles: [.councilMember]).1
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        #expect(try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: reviewer).errorCode == "wrong_level")
        let noPrinciple = try await h.hitl(.post, "/api/v1/reviews/\(id)/decision", token: a, body: #"{"decision": "approve", "reason": "ok"}"#)
        #expect(noPrinciple.status == .badRequest)
        let approve = #"{"decision": "approve", "reason": "documented and reversible by treasury", "principle": "human-oversight"}"#
        let first = try await h.hitl(.post, "/api/v1/reviews/\(id)/decision", token: a, body: approve)
        #expect(first.json["state"] == "pending")
        #expect(first.json["approvals"] == [.string(try #require(first.json["votes"][0]["reviewer"].stringValue))])
        let again = try await h.hitl(.post, "/api/v1/reviews/\(id)/decision", token: a, body: approve)
        #expect(again.status == .conflict)
        let second = try await h.hitl(.post, "/api/v1/reviews/\(id)/decision", token: b, body: approve)
        #expect(second.json["state"] == "approved")
        let late = try await h.hitl(.post, "/api/v1/reviews/\(id)/cancel")
        #expect(late.status == .conflict, "a decided request stays decided")
    }

    @Test func theQueueListsOpenRequestsByUrgencyAndDeadline() async throws {
        let h = try await Harness()
        _ = try await h.hitl(.post, "/api/v1/reviews", body: Self.productionDeploy)
        let urgent = try await h.hitl(.post, "/api/v1/reviews", body: #"{"action": {"type": "deploy"}, "urgency": "critical"}"#)
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        let queue = try await h.hitl(.get, "/api/v1/reviews", token: reviewer)
        #expect(queue.json["count"] == 2)
        #expect(queue.json["reviews"][0]["id"] == urgent.json["id"], "the emergency first")
        let mine = try await h.hitl(.get, "/api/v1/reviews?assigned_to=me", token: reviewer)
        #expect(mine.json["count"] == 0)
        let emergencies = try await h.hitl(.get, "/api/v1/reviews?level=emergency_response&status=pending", token: reviewer)
        #expect(emergencies.json["count"] == 1)
    }

    @Test func requestsAreAssignedToTheLeastLoadedReviewerOfTheLevel() async throws {
        let h = try await Harness()
        let (first, firstToken) = try await h.signIn(roles: [.reviewer])
        let (second, secondToken) = try await h.signIn(roles: [.reviewer])
        _ = try await h.signIn(roles: [.councilMember])  // not a technical reviewer
        var assignees: [String] = []
        for _ in 0..<4 {
            assignees.append(try await h.hitl(.post, "/api/v1/reviews", body: Self.transfer).json["assignee"].stringValue ?? "none")
        }
        #expect(assignees.filter { $0 == first.id }.count == 2 && assignees.filter { $0 == second.id }.count == 2, "\(assignees)")
        let mine = try await h.hitl(.get, "/api/v1/reviews?assigned_to=me", token: firstToken)
        #expect(mine.json["count"] == 2)
        // An assignment is a suggestion until claimed: the other reviewer may take it over.
        let id = try #require(mine.json["reviews"][0]["id"].stringValue)
        let taken = try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: secondToken)
        #expect(taken.json["state"] == "in_review" && taken.json["assignee"] == .string(second.id))
        #expect(try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: firstToken).status == .conflict, "a claim is a lock")
        let steps = try await h.audit.entries(AuditEntryQuery(limit: 1_000, type: .review)).compactMap {
            try? JSONValue.parse(AuditEntry(text: $0.text).event.payload)["event"].stringValue
        }
        #expect(steps.filter { $0 == "assigned" }.count == 4)
        // A request is stored once, already assigned, but its two steps are two entries, in order.
        #expect(Array(steps.prefix(2)) == ["opened", "assigned"], "\(steps)")
    }

    @Test func otherAgentsCannotSeeARequest() async throws {
        let h = try await Harness()
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", body: Self.productionDeploy).json["id"].stringValue)
        let other = try await h.auth.createAgent(name: "other", owner: "tests", by: nil)
        let key = try await h.auth.createAPIKey(agentId: other.id, expiresAt: nil, by: nil).key
        #expect(try await h.hitl(.get, "/api/v1/reviews/\(id)", token: key).status == .notFound)
        let cancel = try await h.hitl(.post, "/api/v1/reviews/\(id)/cancel", token: key)
        #expect(cancel.status == .notFound, "the same answer as for a request that does not exist")
        #expect(cancel.json["error"]["code"] == "not_found")
        #expect(try await h.hitl(.get, "/api/v1/reviews/\(id)").json["state"] == "pending", "nothing changed")
        #expect(try await h.hitl(.post, "/api/v1/reviews/\(id)/cancel").json["state"] == "cancelled")
    }

    @Test(arguments: [
        ("/api/v1/reviews", #"{"action": "#, HTTPResponse.Status.badRequest),
        ("/api/v1/reviews", #"{"action": {"type": "deploy"}, "urgency": "asap"}"#, .badRequest),
        ("/api/v1/reviews", #"{"action": {"type": "deploy"}, "colour": 1}"#, .badRequest),
        ("/api/v1/reviews", #"{"reason": 7, "content": "x"}"#, .badRequest),
        ("/api/v1/reviews", #"{}"#, .badRequest),
        ("/api/v1/oversight/request", #"[1]"#, .badRequest),
    ])
    func badRequestsAre4xxWithACode(path: String, body: String, status: HTTPResponse.Status) async throws {
        let h = try await Harness()
        let response = try await h.hitl(.post, path, body: body)
        #expect(response.status == status, "\(response.json)")
        #expect(response.errorCode != nil)
    }

    @Test func badDecisionsAndQueriesAre4xx() async throws {
        let h = try await Harness()
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", body: Self.transfer).json["id"].stringValue)
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        for body in [#"{"decision": "maybe", "reason": "x"}"#, #"{"decision": "approve"}"#, #"{"decision": "approve", "reason": "  "}"#,
            #"{"decision": "request_changes", "reason": "smaller"}"#, #"{"decision": "deny", "reason": "x", "extra": 1}"#]
        {
            let response = try await h.hitl(.post, "/api/v1/reviews/\(id)/decision", token: reviewer, body: body)
            #expect(response.status == .badRequest, "\(body): \(response.json)")
        }
        #expect(try await h.hitl(.get, "/api/v1/reviews/\(id)?wait=61").status == .badRequest)
        #expect(try await h.hitl(.get, "/api/v1/reviews/\(id)?colour=red").status == .badRequest)
        #expect(try await h.hitl(.get, "/api/v1/reviews?level=board", token: reviewer).status == .badRequest)
        #expect(try await h.hitl(.get, "/api/v1/reviews/rev_nope").status == .notFound)
        #expect(try await h.hitl(.post, "/api/v1/reviews/rev_nope/claim", token: reviewer).status == .notFound)
        #expect(try await h.hitl(.post, "/api/v1/reviews/\(id)/claim", token: reviewer, body: #"{"x": 1}"#).status == .badRequest)
    }
}

@Suite("Review deadlines")
struct ReviewDeadlineTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
    }

    @Test func deadlinesAreEnforcedAfterARestartAndEveryStepIsAudited() async throws {
        let directory = try temporaryDirectory()
        let clock = Clock()
        let audit = InMemoryAuditRepository()
        let log = try await AuditLogWriter.open(repository: audit)
        let input = JudgedInput(action: ["type": "tool_call"], context: ["amount": 20000, "irreversible": true])
        var store = try await SQLiteReviewRepository.open(path: directory + "/acgs.sqlite")
        let opened = try await ReviewDesk(repository: store, audit: log, now: { clock.now }).open(
            ReviewDesk.Opening(requester: "agt_1", input: input, violations: [], constitutionalHash: "cdd01ef066bc6cf2"))
        #expect(opened.level == .technicalReview)
        try await store.close()

        // The server was down past the deadline; a new one enforces it from the store.
        clock.now = opened.deadline.addingTimeInterval(1)
        store = try await SQLiteReviewRepository.open(path: directory + "/acgs.sqlite")
        let desk = ReviewDesk(repository: store, audit: log, now: { clock.now })
        #expect(try await desk.enforceDeadlines() == 1)
        var current = try #require(try await store.find(id: opened.id)).request
        #expect(current.state == .escalated && current.level == .policyManager)
        clock.now = current.deadline
        try await desk.enforceDeadlines()
        clock.now = try #require(try await store.find(id: opened.id)).request.deadline
        try await desk.enforceDeadlines()
        current = try #require(try await store.find(id: opened.id)).request
        #expect(current.state == .expired, "past the last level: denied by default")
        #expect(try await desk.enforceDeadlines() == 0)
        let steps = try await audit.entries(AuditEntryQuery(limit: 100, type: .review)).compactMap {
            try? JSONValue.parse(AuditEntry(text: $0.text).event.payload)["state"].stringValue
        }
        #expect(steps == ["pending", "escalated", "escalated", "expired"])
        try await store.close()
    }

    @Test func aStepThatCannotBeAuditedIsUndone() async throws {
        let audit = InMemoryAuditRepository()
        let store = InMemoryReviewRepository()
        let desk = ReviewDesk(repository: store, audit: try await AuditLogWriter.open(repository: audit))
        let input = JudgedInput(action: ["type": "tool_call"], context: ["amount": 20000, "irreversible": true])
        let opened = try await desk.open(ReviewDesk.Opening(requester: "agt_1", input: input, violations: [], constitutionalHash: "cdd01ef066bc6cf2"))
        await audit.setFailing(true)
        await #expect(throws: (any Error).self) {
            try await desk.apply("claimed", to: opened.id, by: "usr_1") { r, at in
                try r.claim(by: ReviewActor(id: "usr_1", roles: ["reviewer"]), policy: ReviewPolicy(), at: at)
            }
        }
        #expect(await store.find(id: opened.id)?.request.state == .pending, "no step stands without its audit entry")
    }
}
