import Foundation
import GovernanceCore

/// A review request as the stores keep it: its `Codable` form (dates as milliseconds since 1970)
/// as canonical JSON text. SQLite and PostgreSQL store the same document.
enum ReviewDocument {
    /// Written through canonical JSON, several times faster than Foundation's encoder on the fast
    /// lane's path. `decode` reads it back with `JSONDecoder`; a round-trip test keeps the two in step.
    static func encode(_ r: ReviewRequest) throws -> String {
        func ms(_ date: Date) -> JSONValue { .number(date.timeIntervalSince1970 * 1000) }
        func optional(_ value: String?) -> JSONValue? { value.map(JSONValue.string) }
        var fields: [String: JSONValue] = [
            "id": .string(r.id), "requester": .string(r.requester), "acting_for": .array(r.actingFor.sorted().map(JSONValue.string)),
            "action": r.action, "context": r.context, "urgency": .string(r.urgency.rawValue),
            "risk": [
                "score": .number(r.risk.score),
                "factors": .array(r.risk.factors.map(\.json)),
            ],
            "constitutional_hash": .string(r.constitutionalHash), "created_at": ms(r.createdAt), "updated_at": ms(r.updatedAt),
            "state": .string(r.state.rawValue), "level": .string(r.level.rawValue), "deadline": ms(r.deadline),
            "waiting_state": .string(r.waitingState.rawValue),
            "votes": .array(
                r.votes.map { v in
                    var vote: [String: JSONValue] = [
                        "reviewer": .string(v.reviewer), "verdict": .string(v.verdict.rawValue), "reason": .string(v.reason),
                        "level": .string(v.level.rawValue), "at": ms(v.at),
                    ]
                    vote["principle"] = optional(v.principle)
                    vote["changed_arguments"] = v.changedArguments
                    return .object(vote)
                }),
        ]
        fields["reason"] = optional(r.reason)
        fields["decision_id"] = optional(r.decisionId)
        fields["assignee"] = optional(r.assignee)
        return CanonicalJSON.encode(.object(fields))
    }

    static func decode(_ document: String) throws -> ReviewRequest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(ReviewRequest.self, from: Data(document.utf8))
    }
}
