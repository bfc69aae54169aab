import AuditLog
import Foundation
import GovernanceCore
import Hummingbird
import Identity
import Storage

/// The Integrity service: the audit log's entries, signed tree heads, inclusion and consistency
/// proofs, the public keys, and a full server-side verification. For auditors and admins.
struct IntegrityController {
    typealias Context = ACGSRequestContext
    let runtime: GovernanceRuntime
    var log: any AuditRepository { runtime.auditLog.repository }

    static let maxPage = 1_000
    static var maxBodyBytes: Int { 4 * 1024 }

    func addRoutes(to router: Router<Context>) {
        let readers = router.group("/api/v1/integrity").add(middleware: RequireRoles(.admin, .auditor))
        readers.get("entries", use: entries)
        readers.get("entries/:index", use: entry)
        readers.get("tree-head", use: treeHead)
        readers.post("tree-head", use: signTreeHead)
        readers.get("proof/inclusion", use: inclusionProof)
        readers.get("proof/consistency", use: consistencyProof)
        readers.get("keys", use: keys)
        readers.post("verify", use: verify)
        router.group("/api/v1/integrity").add(middleware: RequireRoles(.admin)).post("keys/rotate", use: rotateKey)
    }

    // MARK: entries

    @Sendable func entries(_ request: Request, context: Context) async throws -> Response {
        let query = try Query(request, allowed: ["after", "limit", "type", "actor", "since", "until"])
        var filter = AuditEntryQuery(limit: try query.integer("limit", in: 1...Self.maxPage) ?? 100)
        filter.after = try query.integer("after", in: -1...Int.max)
        filter.type = try query.choice("type", as: AuditEntryType.self)
        filter.actor = query.values["actor"]
        filter.since = try query.time("since")
        filter.until = try query.time("until")
        let page = try await store { try await log.entries(filter) }
        let (size, _) = await runtime.auditLog.head()
        var body: [String: JSONValue] = [
            "entries": .array(page.map(Self.entryJSON)), "tree_size": .number(Double(size)),
        ]
        body["next_after"] = page.count == filter.limit ? page.last.map { .number(Double($0.index)) } ?? .null : .null
        return JSONResponse.make(.object(body))
    }

    @Sendable func entry(_ request: Request, context: Context) async throws -> Response {
        let text = try context.parameters.require("index")
        guard let index = Int(text), index >= 0 else {
            throw APIError.badRequest("the entry index must be a non-negative integer, not '\(text)'", code: "invalid_parameter")
        }
        guard let stored = try await store({ try await log.entry(at: index) }) else {
            throw APIError(.notFound, code: "not_found", message: "no audit entry \(index)")
        }
        return JSONResponse.make(Self.entryJSON(stored))
    }

    // MARK: heads and keys

    @Sendable func treeHead(_ request: Request, context: Context) async throws -> Response {
        _ = try Query(request, allowed: [])
        return JSONResponse.make(try await store { try await runtime.treeHeads.latestHead() }.json)
    }

    @Sendable func signTreeHead(_ request: Request, context: Context) async throws -> Response {
        try await request.emptyJSONObjectBody(limit: Self.maxBodyBytes)
        return JSONResponse.make(try await store { try await runtime.treeHeads.sign() }.json, status: .created)
    }

    @Sendable func keys(_ request: Request, context: Context) async throws -> Response {
        _ = try Query(request, allowed: [])
        let keys = try await store { try await runtime.treeHeads.keys.publicKeys() }
        return JSONResponse.make(["keys": .array(keys.map(\.json)), "algorithm": "Ed25519", "signed_message_type": .string(SignedTreeHead.signatureType)])
    }

    @Sendable func rotateKey(_ request: Request, context: Context) async throws -> Response {
        try await request.emptyJSONObjectBody(limit: Self.maxBodyBytes)
        guard let ring = runtime.treeHeads.keys as? AuditSigningKeys else {
            throw APIError(.conflict, code: "not_rotatable", message: "this deployment's audit keys are not rotated here")
        }
        let kid = try await store { try await ring.store.rotate() }
        // The next head is signed by the new key at once, so the rotation is visible in the log.
        let head = try await store { try await runtime.treeHeads.sign() }
        _ = try await store {
            try await runtime.auditLog.append(
                AuditEvent(
                    type: .system, actor: context.principal?.id ?? "anonymous", constitutionalHash: runtime.activeHash, subjects: [kid],
                    payload: ["event": "audit_key_rotated", "key_id": .string(kid)]))
        }
        return JSONResponse.make(["key_id": .string(kid), "tree_head": head.json], status: .created)
    }

    // MARK: proofs

    @Sendable func inclusionProof(_ request: Request, context: Context) async throws -> Response {
        let query = try Query(request, allowed: ["index", "tree_size"])
        guard let index = try query.integer("index", in: 0...Int.max) else {
            throw APIError.badRequest("query parameter 'index' is required", code: "invalid_parameter")
        }
        let (treeSize, head) = try await size(query.integer("tree_size", in: 1...Int.max))
        guard index < treeSize else {
            throw APIError.badRequest("index \(index) is not in a tree of \(treeSize) entries", code: "invalid_parameter")
        }
        let proof = try await store { try await log.proofs.inclusion(index: index, treeSize: treeSize) }
        var body: [String: JSONValue] = [
            "index": .number(Double(index)), "tree_size": .number(Double(treeSize)), "leaf_hash": .string(MerkleHash.hex(proof.leafHash)),
            "root_hash": .string(MerkleHash.hex(proof.root)), "audit_path": .array(proof.path.map { .string(MerkleHash.hex($0)) }),
        ]
        body["tree_head"] = head?.json ?? .null
        return JSONResponse.make(.object(body))
    }

    @Sendable func consistencyProof(_ request: Request, context: Context) async throws -> Response {
        let query = try Query(request, allowed: ["first", "second"])
        guard let first = try query.integer("first", in: 0...Int.max) else {
            throw APIError.badRequest("query parameter 'first' is required", code: "invalid_parameter")
        }
        let (second, head) = try await size(query.integer("second", in: 0...Int.max))
        guard first <= second else {
            throw APIError.badRequest("'first' (\(first)) must not exceed 'second' (\(second))", code: "invalid_parameter")
        }
        let proof = try await store { try await log.proofs.consistency(first: first, second: second) }
        var body: [String: JSONValue] = [
            "first": .number(Double(first)), "second": .number(Double(second)), "first_root": .string(MerkleHash.hex(proof.firstRoot)),
            "second_root": .string(MerkleHash.hex(proof.secondRoot)), "proof": .array(proof.proof.map { .string(MerkleHash.hex($0)) }),
        ]
        body["tree_head"] = head?.json ?? .null
        return JSONResponse.make(.object(body))
    }

    /// The tree size a proof is for: the one asked for (up to the durable size), or the newest signed
    /// head's, which is then answered with the proof.
    private func size(_ requested: Int?) async throws -> (Int, SignedTreeHead?) {
        let (durable, _) = await runtime.auditLog.head()
        if let requested {
            guard requested <= durable else {
                throw APIError.badRequest("the log holds \(durable) entries; tree size \(requested) does not exist yet", code: "invalid_parameter")
            }
            return (requested, nil)
        }
        let head = try await store { try await runtime.treeHeads.latestHead() }
        return (head.treeSize, head)
    }

    // MARK: verification

    @Sendable func verify(_ request: Request, context: Context) async throws -> Response {
        try await request.emptyJSONObjectBody(limit: Self.maxBodyBytes)
        let start = ContinuousClock.now
        // Everything appended so far is signed first, so that the check covers the whole log.
        let head = try await store { try await runtime.treeHeads.sign() }
        let keys = try await store { try await runtime.treeHeads.keys.publicKeys() }
        let report = try await store { try await log.verify(keys: keys) }
        let elapsed = ContinuousClock.now - start
        guard case .object(var body) = report.json else { return JSONResponse.make(report.json) }
        body["tree_head"] = head.json
        body["duration_ms"] = .number(Double(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000))
        return JSONResponse.make(.object(body))
    }

    // MARK: helpers

    static func entryJSON(_ stored: StoredAuditEntry) -> JSONValue {
        let entry = (try? JSONValue.parse(stored.text)) ?? .string(stored.text)
        return [
            "index": .number(Double(stored.index)), "leaf_hash": .string(MerkleHash.hex(MerkleHash.leaf(utf8: stored.text))),
            "entry": entry,
        ]
    }

    /// Runs a store operation; a store that fails answers 503, never a 500.
    private func store<T>(_ body: () async throws -> T) async throws -> T {
        try await APIError.unavailableOnFailure(
            code: "audit_log_unavailable", message: "the audit log cannot be read or written now; retry later", logger: runtime.logger, body)
    }
}
