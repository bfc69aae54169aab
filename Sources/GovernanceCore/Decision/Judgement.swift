/// How matched rules combine into a decision: any deny denies; otherwise any escalate escalates;
/// otherwise allow, with warnings reported.
enum Judgement {
    /// Combines the matched rules (with their recommendations, if written) into an evaluation.
    static func combine(_ matches: [(Violation, String?)], constitution: ConstitutionDocument, cleanReasoning: String) -> Evaluation {
        if matches.isEmpty {
            return Evaluation(outcome: .allow, violations: [], score: 1, violatedPrinciples: [], reasoning: cleanReasoning, recommendations: [])
        }
        let violations = matches.map(\.0)
        let outcome: Outcome =
            violations.contains { $0.effect == .deny } ? .deny : (violations.contains { $0.effect == .escalate } ? .escalate : .allow)
        var penalty = 0.0
        for v in violations { penalty += weight(v.severity) * factor(v.effect) }
        let score = (max(0, 1 - penalty) * 10_000).rounded() / 10_000

        var principles: [String] = []
        for v in violations where v.effect != .warn && !principles.contains(v.principleId) {
            principles.append(v.principleId)
        }
        var recommendations: [String] = []
        for (v, recommendation) in matches {
            let text = recommendation ?? defaultRecommendation(v)
            if !recommendations.contains(text) { recommendations.append(text) }
        }
        return Evaluation(
            outcome: outcome, violations: violations, score: score, violatedPrinciples: principles,
            reasoning: reasoning(outcome, violations, constitution), recommendations: recommendations)
    }

    static func weight(_ s: Severity) -> Double {
        switch s {
        case .critical: 1.0
        case .high: 0.6
        case .medium: 0.3
        case .low: 0.1
        }
    }

    static func factor(_ e: Effect) -> Double {
        switch e {
        case .deny: 1.0
        case .escalate: 0.5
        case .warn: 0.2
        }
    }

    static func defaultRecommendation(_ v: Violation) -> String {
        switch v.effect {
        case .deny: "Do not perform this action as requested; change it so that rule \(v.ruleId) no longer applies."
        case .escalate: "Hold the action until a human reviewer approves it."
        case .warn: "Proceed with care: \(v.message)."
        }
    }

    static func reasoning(_ outcome: Outcome, _ violations: [Violation], _ c: ConstitutionDocument) -> String {
        let under = "under \(c.name) \(c.version)"
        let cited = { (effect: Effect) in
            violations.filter { $0.effect == effect }.map { "\($0.ruleId) (\($0.principleId)): \($0.message)" }.joined(separator: "; ")
        }
        let warnings = violations.contains { $0.effect == .warn } ? " Warnings: \(cited(.warn))." : ""
        switch outcome {
        case .allow:
            return violations.isEmpty ? "Allowed: no rule \(under) matched." : "Allowed \(under) with warnings.\(warnings)"
        case .deny:
            return "Denied \(under): \(cited(.deny))."
        case .escalate:
            return "Escalated for human review \(under): \(cited(.escalate))."
        }
    }
}
