import AuditLog
import Cache
import Foundation
import GovernanceCore
import Identity
import NIOCore
import Storage

/// A decision as answered to the client.
public struct Decision: Sendable {
    public var id: String
    public var evaluation: Evaluation
    public var violations: JSONValue
    public var constitutionHash: String
    public var constitutionVersion: String
    public var cacheHit: Bool
    public var validationMicroseconds: Int
    /// The index of the decision's entry in the audit log.
    public var auditIndex: Int
    /// The review request an escalation opened.
    public var reviewId: String?
    /// The canonical JSON of the fields that depend only on the input and the constitution,
    /// without braces; encoded once per distinct input and kept in the cache with it.
    public var evaluationJSON: String

    public init(
        id: String, evaluation: Evaluation, violations: JSONValue, constitutionHash: String, constitutionVersion: String,
        cacheHit: Bool, validationMicroseconds: Int, auditIndex: Int = -1, evaluationJSON: String? = nil
    ) {
        self.id = id
        self.evaluation = evaluation
        self.violations = violations
        self.constitutionHash = constitutionHash
        self.constitutionVersion = constitutionVersion
        self.cacheHit = cacheHit
        self.validationMicroseconds = validationMicroseconds
        self.auditIndex = auditIndex
        self.evaluationJSON = evaluationJSON ?? DecisionJSON.evaluationJSON(evaluation, violations: violations)
    }
}

/// The decision path: evaluate (or take from the cache), record durably, count, answer.
struct DecisionService: Sendable {
    let runtime: GovernanceRuntime

    /// Judges one request body. The cache is keyed by the canonical input; the exact bytes of a body
    /// are an alias for it, so that a repeated body is answered without parsing it again (it was
    /// valid the first time). Otherwise `parse` checks the body and builds the input. Returns only after the decision
    /// record is durable; if it cannot be stored the request fails closed with 503 and no decision.
    func decide(
        body: ByteBuffer, principal: Principal?, parse: (JSONValue, CompiledConstitution) throws -> (JudgedInput, Set<String>?)
    ) async throws -> Decision {
        let constitution = runtime.constitution
        let start = ContinuousClock.now
        let key = RequestBodyKey.make("raw", body: body, principal: principal, constitutionHash: constitution.hash)
        let agent = principal?.asRuleInput ?? .null
        let entry: CachedEvaluation
        var tier: CacheTier?
        if let cached = runtime.cache.get(key) {
            entry = cached
            tier = .l1
        } else {
            let json: JSONValue
            do {
                json = try body.readableBytesView.withContiguousStorageIfAvailable { bytes throws(JSONParseError) in try JSONValue.parse(bytes) }
                    ?? JSONValue.parse(String(buffer: body))
            } catch let error as JSONParseError {
                throw APIError.badRequest("malformed JSON: \(error.description)", code: "invalid_json")
            }
            let (input, principles) = try parse(json, constitution)
            // The same input written differently (spacing, key order) shares the canonical entry.
            let canonicalKey = Self.canonicalKey(input, principles: principles, constitution: constitution)
            (entry, tier) = await lookUp(canonicalKey, input: input, principles: principles, constitution: constitution)
            runtime.cache.set(key, entry)
        }
        return try await record([(entry, tier, start)], agent: agent, constitution: constitution)[0]
    }

    /// The evaluation of an input from the L1, else the L2 (another replica, or this one before a
    /// restart, judged it), else evaluated now and cached in both.
    private func lookUp(
        _ canonicalKey: String, input: JudgedInput, principles: Set<String>?, constitution: CompiledConstitution
    ) async -> (CachedEvaluation, CacheTier?) {
        if let cached = runtime.cache.get(canonicalKey) { return (cached, .l1) }
        if let l2 = runtime.l2, let text = await l2.get(.policyDecisions, hash: constitution.hash, key: canonicalKey),
            let shared = try? JSONDecoder().decode(CachedEvaluation.self, from: Data(text.utf8))
        {
            runtime.cache.set(canonicalKey, shared)
            return (shared, .l2)
        }
        let entry = Self.evaluate(input, principles: principles, under: constitution)
        runtime.cache.set(canonicalKey, entry)
        if let l2 = runtime.l2, let data = try? JSONEncoder().encode(entry) {
            l2.set(.policyDecisions, hash: constitution.hash, key: canonicalKey, value: String(decoding: data, as: UTF8.self))
        }
        return (entry, nil)
    }

    /// Judges several inputs; all are stored in one batch, all or none.
    func decide(_ inputs: [(JudgedInput, Set<String>?)]) async throws -> [Decision] {
        let constitution = runtime.constitution
        var judged: [(CachedEvaluation, CacheTier?, ContinuousClock.Instant)] = []
        judged.reserveCapacity(inputs.count)
        for (input, principles) in inputs {
            let start = ContinuousClock.now
            let key = Self.canonicalKey(input, principles: principles, constitution: constitution)
            let (entry, tier) = await lookUp(key, input: input, principles: principles, constitution: constitution)
            judged.append((entry, tier, start))
        }
        return try await record(judged, agent: inputs.first?.0.agent ?? .null, constitution: constitution)
    }

    /// The cache key of an input: the constitutional hash and a digest of the canonical input
    /// (with the acting agent and the principles filter, which change the decision too).
    static func canonicalKey(_ input: JudgedInput, principles: Set<String>?, constitution: CompiledConstitution) -> String {
        var keyValue = input.canonicalValue
        if case .object(var fields) = keyValue {
            fields["principles"] = principles.map { .array($0.sorted().map(JSONValue.string)) } ?? .null
            keyValue = .object(fields)
        }
        return "canonical:\(constitution.hash):" + Digest.sha256Hex(CanonicalJSON.encode(keyValue))
    }

    /// Everything a decision on this input needs, computed once per distinct input.
    static func evaluate(_ input: JudgedInput, principles: Set<String>?, under constitution: CompiledConstitution) -> CachedEvaluation {
        let evaluation = constitution.evaluate(input, principles: principles)
        let violations = DecisionJSON.violations(evaluation.violations)
        return CachedEvaluation(
            evaluation: evaluation, inputDigest: Digest.sha256Hex(CanonicalJSON.encode(input.canonicalValue)),
            maskedInput: CanonicalJSON.encode(Masking.mask(input.canonicalValue)),
            violationsJSON: violations, violationsText: CanonicalJSON.encode(violations), evaluationJSON: DecisionJSON.evaluationJSON(evaluation, violations: violations))
    }

    /// Records the decisions in the audit log (one group commit, all or none) and counts them.
    /// Nothing is answered before the entries are durable.
    private func record(
        _ judged: [(entry: CachedEvaluation, tier: CacheTier?, start: ContinuousClock.Instant)], agent: JSONValue,
        constitution: CompiledConstitution
    ) async throws -> [Decision] {
        var decisions: [Decision] = []
        var events: [AuditEvent] = []
        decisions.reserveCapacity(judged.count)
        events.reserveCapacity(judged.count)
        let agentId = agent["id"].stringValue
        for (entry, tier, start) in judged {
            let elapsed = ContinuousClock.now - start
            let micros = Int(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
            let id = runtime.decisionIDs.next()
            decisions.append(
                Decision(
                    id: id, evaluation: entry.evaluation, violations: entry.violationsJSON, constitutionHash: constitution.hash,
                    constitutionVersion: constitution.version, cacheHit: tier != nil, validationMicroseconds: micros,
                    evaluationJSON: entry.evaluationJSON))
            events.append(Self.auditEvent(id: id, entry: entry, agentId: agentId, constitution: constitution))
        }
        // An escalation is only useful with a person to ask: each opens a review request, written with
        // the decisions (its entries in the same batch of the log, so one commit covers both).
        var prepared: [(index: Int, review: ReviewDesk.Prepared)] = []
        for (i, (entry, _, _)) in judged.enumerated() where entry.evaluation.outcome == .escalate {
            let masked = (try? JSONValue.parse(entry.maskedInput)) ?? .null
            let input = JudgedInput(action: masked["action"], content: masked["content"], context: masked["context"], agent: masked["agent"])
            let opening = ReviewDesk.Opening(
                requester: agentId ?? "anonymous", input: input, violations: entry.evaluation.violations, decisionId: decisions[i].id,
                constitutionalHash: constitution.hash)
            do {
                prepared.append((i, try await runtime.reviews.prepare(opening)))
            } catch {
                throw reviewsUnavailable(error)
            }
        }
        let indices: [Int]
        do {
            if prepared.isEmpty {
                indices = try await runtime.auditLog.append(events)
            } else {
                let (reviews, leading) = try await runtime.reviews.commit(prepared.map(\.review), after: events)
                for ((i, _), review) in zip(prepared, reviews) { decisions[i].reviewId = review.id }
                indices = leading
            }
        } catch let error as ReviewDesk.EntriesNotWritten {
            throw auditUnavailable(error.underlying, decisions: events.count)
        } catch let error where prepared.isEmpty {
            throw auditUnavailable(error, decisions: events.count)
        } catch {
            // The decisions are recorded, but the escalation has no reviewer to go to.
            throw reviewsUnavailable(error)
        }
        for i in decisions.indices {
            decisions[i].auditIndex = indices[i]
            runtime.metrics.recordDecision(decisions[i].evaluation.outcome, tier: judged[i].tier)
        }
        return decisions
    }

    private func auditUnavailable(_ error: any Error, decisions: Int) -> APIError {
        for _ in 0..<decisions { runtime.metrics.recordGovernanceFailure() }
        runtime.logger.error("audit log unavailable; failing closed", metadata: ["error.type": "\(type(of: error))"])
        return APIError.unavailable("the decision could not be recorded in the audit log, so none is given; retry later", code: "audit_log_unavailable")
    }

    private func reviewsUnavailable(_ error: any Error) -> APIError {
        runtime.logger.error("review store unavailable; failing closed", metadata: ["error.type": "\(type(of: error))"])
        return APIError.unavailable("the escalation could not be put to a reviewer; retry later", code: "review_store_unavailable")
    }

    /// A decision's audit entry: the masked input, the evaluation as answered, and the digest of the
    /// unmasked input. The payload is assembled from the cached canonical fragments, in key order.
    static func auditEvent(id: String, entry: CachedEvaluation, agentId: String?, constitution: CompiledConstitution) -> AuditEvent {
        var payload = #"{"constitution_version":"#
        payload.reserveCapacity(entry.evaluationJSON.utf8.count + entry.maskedInput.utf8.count + constitution.version.utf8.count + 120)
        CanonicalJSON.writeString(constitution.version, into: &payload)
        payload += #","decision_id":"#
        CanonicalJSON.writeString(id, into: &payload)
        payload += #","evaluation":{"#
        payload += entry.evaluationJSON
        payload += #"},"input":"#
        payload += entry.maskedInput
        payload += "}"
        return AuditEvent(
            type: .decision, actor: agentId ?? "anonymous", constitutionalHash: constitution.hash,
            subjects: agentId.map { [id, $0] } ?? [id], canonicalPayload: payload, inputDigest: entry.inputDigest,
            outcome: entry.evaluation.outcome == .allow ? nil : entry.evaluation.outcome.rawValue)
    }
}

/// The JSON shapes of decisions, shared by the API and the stored records.
public enum DecisionJSON {
    public static func violations(_ violations: [Violation]) -> JSONValue {
        .array(
            violations.map { v in
                .object([
                    "rule_id": .string(v.ruleId), "principle_id": .string(v.principleId),
                    "severity": .string(v.severity.rawValue), "effect": .string(v.effect.rawValue),
                    "message": .string(v.message),
                    "evidence": .array(
                        v.evidence.map { e in
                            var fields: [String: JSONValue] = ["field": .string(e.field), "match": .string(e.match)]
                            if let d = e.detector { fields["detector"] = .string(d) }
                            return .object(fields)
                        }),
                ])
            })
    }

    /// The fields of a decision that depend only on the input and the constitution.
    static func evaluationFields(_ e: Evaluation, violations: JSONValue) -> [String: JSONValue] {
        [
            "compliant": .bool(e.compliant),
            "score": .number(e.score),
            "violated_principles": .array(e.violatedPrinciples.map(JSONValue.string)),
            "reasoning": .string(e.reasoning),
            "recommendations": .array(e.recommendations.map(JSONValue.string)),
            "decision": .string(e.outcome.rawValue),
            "violations": violations,
        ]
    }

    static func evaluationJSON(_ e: Evaluation, violations: JSONValue) -> String {
        String(CanonicalJSON.encode(.object(evaluationFields(e, violations: violations))).dropFirst().dropLast())
    }

    static func requestFields(_ d: Decision) -> [String: JSONValue] {
        [
            "constitutional_hash": .string(d.constitutionHash),
            "metadata": .object([
                "cache_hit": .bool(d.cacheHit),
                "validation_time_us": .number(Double(d.validationMicroseconds)),
                "constitution_version": .string(d.constitutionVersion),
            ]),
            "decision_id": .string(d.id),
            "audit_index": .number(Double(d.auditIndex)),
            "review_id": d.reviewId.map(JSONValue.string) ?? .null,
        ]
    }

    /// The ACGS-2 validation response, plus `decision`, `violations` and `decision_id`.
    public static func response(_ d: Decision) -> JSONValue {
        .object(evaluationFields(d.evaluation, violations: d.violations).merging(requestFields(d)) { a, _ in a })
    }

    /// The same response as text, reusing the cached encoding of the evaluation's fields; the few
    /// per-request fields are written directly (ids, hashes and versions are quoted as JSON strings).
    static func encodedResponse(_ d: Decision) -> String {
        // Written into one string of the right capacity: concatenating pieces cost a copy each.
        var out = "{"
        out.reserveCapacity(d.evaluationJSON.utf8.count + d.constitutionVersion.utf8.count + 320)
        out += d.evaluationJSON
        out += #","audit_index":"#
        out += String(d.auditIndex)
        out += #","constitutional_hash":"#
        CanonicalJSON.writeString(d.constitutionHash, into: &out)
        out += #","decision_id":"#
        CanonicalJSON.writeString(d.id, into: &out)
        out += #","metadata":{"cache_hit":"#
        out += d.cacheHit ? "true" : "false"
        out += #","constitution_version":"#
        CanonicalJSON.writeString(d.constitutionVersion, into: &out)
        out += #","validation_time_us":"#
        out += String(d.validationMicroseconds)
        out += "}"
        if let reviewId = d.reviewId {
            out += #","review_id":"#
            CanonicalJSON.writeString(reviewId, into: &out)
        }
        out += "}"
        return out
    }
}
