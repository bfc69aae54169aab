import Foundation
import Testing

@testable import GovernanceCore

@Suite("Review requests")
struct ReviewRequestTests {
    static let policy = ReviewPolicy()
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let reviewer = ReviewActor(id: "usr_rev", roles: ["reviewer"])
    static let otherReviewer = ReviewActor(id: "usr_rev2", roles: ["reviewer"])

    static func request(
        risk: Double, urgency: ReviewUrgency = .normal, ruledByConstitution: Bool = false, requester: String = "agt_1",
        actingFor: Set<String> = ["usr_owner"]
    ) -> ReviewRequest {
        ReviewRequest(
            id: "rev_1", requester: requester, actingFor: actingFor, action: ["type": "deploy"], context: ["environment": "production"],
            urgency: urgency, risk: RiskAssessment(factors: [RiskFactor(name: "test", weight: risk, detail: "")]),
            ruledByConstitution: ruledByConstitution, constitutionalHash: "cdd01ef066bc6cf2", policy: policy, at: t0)
    }

    static func vote(_ verdict: ReviewVerdict, reason: String = "checked the change window", principle: String? = nil, changes: JSONValue? = nil) -> ReviewVote {
        ReviewVote(reviewer: "", verdict: verdict, reason: reason, principle: principle, changedArguments: changes, level: .technicalReview, at: t0)
    }

    @Test(arguments: [
        (0.1, ReviewUrgency.normal, nil as EscalationLevel?),
        (0.29, .normal, nil),
        (0.3, .normal, .technicalReview),
        (0.6, .normal, .policyManager),
        (0.85, .normal, .constitutionalCouncil),
        (0.1, .critical, .emergencyResponse),
    ])
    func routingFollowsRiskAndUrgency(risk: Double, urgency: ReviewUrgency, level: EscalationLevel?) {
        let r = Self.request(risk: risk, urgency: urgency)
        if let level {
            #expect(r.state == .pending)
            #expect(r.level == level)
            #expect(r.deadline == Self.t0.addingTimeInterval(Self.policy.policy(for: level).deadline.seconds))
        } else {
            #expect(r.state == .approved)
            #expect(r.fastLane)
        }
    }

    /// The fast lane approves without a person, so it never takes an action the constitution
    /// escalates or denies, however low the risk; above the threshold, routing is unchanged.
    @Test(arguments: [(0.0, EscalationLevel.technicalReview), (0.29, .technicalReview), (0.6, .policyManager)])
    func anActionTheConstitutionRulesOnWaitsForAPerson(risk: Double, level: EscalationLevel) {
        let r = Self.request(risk: risk, ruledByConstitution: true)
        #expect(r.state == .pending)
        #expect(r.level == level)
        #expect(!r.fastLane)
    }

    @Test func onlyTheLegalTransitionsExist() {
        for state in ReviewState.allCases where state.isFinal {
            #expect(ReviewState.allCases.allSatisfy { !state.canMove(to: $0) }, "\(state) is final")
        }
        #expect(!ReviewState.pending.canMove(to: .pending))
        #expect(ReviewState.inReview.canMove(to: .pending), "a release")
        #expect(!ReviewState.escalated.canMove(to: .pending), "an escalated request waits as escalated")
    }

    @Test func aReviewerClaimsAndApproves() throws {
        var r = Self.request(risk: 0.4)
        try r.claim(by: Self.reviewer, policy: Self.policy, at: Self.t0)
        #expect(r.state == .inReview && r.assignee == "usr_rev")
        #expect(throws: ReviewError.claimedByAnother("usr_rev")) { try r.claim(by: Self.otherReviewer, policy: Self.policy, at: Self.t0) }
        try r.decide(Self.vote(.approve), by: Self.reviewer, policy: Self.policy, at: Self.t0)
        #expect(r.state == .approved)
        #expect(!r.fastLane)
        #expect(throws: ReviewError.illegalTransition(from: .approved, to: .cancelled)) {
            try r.cancel(by: ReviewActor(id: "agt_1", roles: ["agent"]), at: Self.t0)
        }
    }

    @Test func theRequesterAndThoseActingForItNeverReviewIt() {
        var r = Self.request(risk: 0.4)
        let agentAsReviewer = ReviewActor(id: "agt_1", roles: ["reviewer"])
        let owner = ReviewActor(id: "usr_owner", roles: ["reviewer", "admin"])
        #expect(throws: ReviewError.ownRequest) { try r.claim(by: agentAsReviewer, policy: Self.policy, at: Self.t0) }
        #expect(throws: ReviewError.ownRequest) { try r.decide(Self.vote(.approve), by: owner, policy: Self.policy, at: Self.t0) }
        #expect(r.state == .pending)
    }

    @Test func onlyTheLevelsRolesReview() {
        var r = Self.request(risk: 0.85)
        #expect(throws: ReviewError.notAReviewerAtThisLevel(.constitutionalCouncil)) {
            try r.decide(Self.vote(.approve, principle: "oversight"), by: Self.reviewer, policy: Self.policy, at: Self.t0)
        }
    }

    @Test func theCouncilNeedsAQuorumOfDistinctMembersAndAPrinciple() throws {
        var r = Self.request(risk: 0.85)
        let a = ReviewActor(id: "usr_a", roles: ["council_member"])
        let b = ReviewActor(id: "usr_b", roles: ["council_member"])
        #expect(throws: ReviewError.principleRequired) { try r.decide(Self.vote(.approve), by: a, policy: Self.policy, at: Self.t0) }
        try r.claim(by: a, policy: Self.policy, at: Self.t0)
        try r.decide(Self.vote(.approve, principle: "human-oversight"), by: a, policy: Self.policy, at: Self.t0)
        #expect(r.state == .pending, "one approval of two: back in the queue for the next member")
        #expect(throws: ReviewError.alreadyVoted) {
            try r.decide(Self.vote(.approve, principle: "human-oversight"), by: a, policy: Self.policy, at: Self.t0)
        }
        try r.decide(Self.vote(.approve, principle: "human-oversight"), by: b, policy: Self.policy, at: Self.t0)
        #expect(r.state == .approved)
        #expect(r.approvals == ["usr_a", "usr_b"])
    }

    @Test func aDenyOrARequestForChangesDecidesAtOnce() throws {
        var denied = Self.request(risk: 0.85)
        let a = ReviewActor(id: "usr_a", roles: ["council_member"])
        try denied.decide(Self.vote(.deny), by: a, policy: Self.policy, at: Self.t0)
        #expect(denied.state == .denied, "one deny is enough, even where approval needs a quorum")

        var changes = Self.request(risk: 0.4)
        #expect(throws: ReviewError.changesRequired) { try changes.decide(Self.vote(.requestChanges), by: Self.reviewer, policy: Self.policy, at: Self.t0) }
        #expect(throws: ReviewError.reasonRequired) { try changes.decide(Self.vote(.approve, reason: "  "), by: Self.reviewer, policy: Self.policy, at: Self.t0) }
        try changes.decide(Self.vote(.requestChanges, changes: ["replicas": 1]), by: Self.reviewer, policy: Self.policy, at: Self.t0)
        #expect(changes.state == .changesRequested)
        #expect(changes.votes.last?.changedArguments == ["replicas": 1])
    }

    @Test func overdueRequestsClimbTheLevelsThenExpireDenied() throws {
        var r = Self.request(risk: 0.4)
        try r.claim(by: Self.reviewer, policy: Self.policy, at: Self.t0)
        let early = r.enforceDeadline(policy: Self.policy, at: Self.t0.addingTimeInterval(60))
        #expect(!early, "not yet due")
        var now = r.deadline
        let due = r.enforceDeadline(policy: Self.policy, at: now)
        #expect(due)
        #expect(r.state == .escalated && r.level == .policyManager && r.assignee == nil)
        #expect(throws: ReviewError.notAReviewerAtThisLevel(.policyManager)) { try r.claim(by: Self.reviewer, policy: Self.policy, at: now) }
        let manager = ReviewActor(id: "usr_pm", roles: ["policy_author"])
        try r.claim(by: manager, policy: Self.policy, at: now)
        try r.release(by: manager, at: now)
        #expect(r.state == .escalated, "released back to where it waits")
        now = r.deadline
        r.enforceDeadline(policy: Self.policy, at: now)
        #expect(r.level == .constitutionalCouncil)
        now = r.deadline
        r.enforceDeadline(policy: Self.policy, at: now)
        #expect(r.state == .expired, "past the last level, fail closed")
        let afterExpiry = r.enforceDeadline(policy: Self.policy, at: now.addingTimeInterval(3600))
        #expect(!afterExpiry)
    }
}

@Suite("Risk assessment")
struct RiskAssessmentTests {
    static func violation(_ severity: Severity, _ effect: Effect = .escalate) -> Violation {
        Violation(ruleId: "r-\(severity.rawValue)", principleId: "p", severity: severity, effect: effect, message: "m", evidence: [])
    }

    @Test func theScoreListsItsFactorsAndStaysInRange() {
        let input = JudgedInput(
            action: ["type": "payment"], context: ["environment": "production", "amount": 250_000, "irreversible": true, "destination": "external"])
        let risk = RiskAssessment.assess(
            RiskInputs(violations: [Self.violation(.critical), Self.violation(.high)], input: input, recentDenials: 20, recentEscalations: 3))
        #expect(risk.score > 0.9 && risk.score <= 1)
        #expect(Set(risk.factors.map(\.name)) == ["rule", "production", "amount", "irreversible", "external_destination", "agent_denials", "agent_escalations"])
        #expect(risk.factors.first?.detail.contains("r-critical") == true, "the most severe rule first")
        #expect(RiskAssessment.assess(RiskInputs(violations: [], input: JudgedInput())).score == 0)
    }

    @Test func moreRiskNeverLowersTheScore() {
        let base = JudgedInput(action: ["type": "deploy"], context: ["environment": "staging"])
        let prod = JudgedInput(action: ["type": "deploy"], context: ["environment": "production"])
        let a = RiskAssessment.assess(RiskInputs(violations: [Self.violation(.medium)], input: base))
        let b = RiskAssessment.assess(RiskInputs(violations: [Self.violation(.medium)], input: prod))
        let c = RiskAssessment.assess(RiskInputs(violations: [Self.violation(.medium), Self.violation(.low)], input: prod))
        let d = RiskAssessment.assess(RiskInputs(violations: [Self.violation(.medium), Self.violation(.low)], input: prod, recentDenials: 2))
        #expect(a.score < b.score && b.score < c.score && c.score < d.score)
        #expect(
            RiskAssessment.assess(RiskInputs(violations: [Self.violation(.high, .warn)], input: base)).score
                < RiskAssessment.assess(RiskInputs(violations: [Self.violation(.high)], input: base)).score, "a warning weighs half")
    }
}
