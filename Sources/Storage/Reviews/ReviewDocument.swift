import Foundation
import GovernanceCore

/// A review request as the stores keep it: its `Codable` form (dates as milliseconds since 1970)
/// as canonical JSON text. SQLite and PostgreSQL store the same document.
enum ReviewDocument {
    /// Written as canonical JSON field by field, several times faster than Foundation's encoder
    /// on the fast lane's path. `decode` reads it back with `JSONDecoder`; a round-trip test keeps
    /// the two in step. Absent optionals are left out.
    static func encode(_ r: ReviewRequest) -> String {
        func ms(_ date: Date) -> Double { date.timeIntervalSince1970 * 1000 }
        var o = CanonicalObject(capacity: 1024)
        o.strings("acting_for", r.actingFor.sorted())
        o.value("action", r.action)
        if let assignee = r.assignee { o.string("assignee", assignee) }
        o.string("constitutional_hash", r.constitutionalHash)
        o.value("context", r.context)
        o.number("created_at", ms(r.createdAt))
        o.number("deadline", ms(r.deadline))
        if let decisionId = r.decisionId { o.string("decision_id", decisionId) }
        o.string("id", r.id)
        o.string("level", r.level.rawValue)
        if let reason = r.reason { o.string("reason", reason) }
        o.string("requester", r.requester)
        o.object("risk") { r.risk.write(into: &$0) }
        o.string("state", r.state.rawValue)
        o.number("updated_at", ms(r.updatedAt))
        o.string("urgency", r.urgency.rawValue)
        o.objects("votes", r.votes) { v, vote in
            vote.number("at", ms(v.at))
            if let changed = v.changedArguments { vote.value("changed_arguments", changed) }
            vote.string("level", v.level.rawValue)
            if let principle = v.principle { vote.string("principle", principle) }
            vote.string("reason", v.reason)
            vote.string("reviewer", v.reviewer)
            vote.string("verdict", v.verdict.rawValue)
        }
        o.string("waiting_state", r.waitingState.rawValue)
        return o.text()
    }

    static func decode(_ document: String) throws -> ReviewRequest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(ReviewRequest.self, from: Data(document.utf8))
    }
}
