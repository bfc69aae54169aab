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

let integrityPath = "/api/v1/integrity"

/// Harness helpers for the Integrity service: an auditor's token and a few decisions in the log.
extension Harness {
    func auditorToken() async throws -> String { try await signIn(roles: [.auditor]).1 }

    /// Makes `count` decisions through the Constitutional AI service; returns their responses.
    func decide(_ count: Int) async throws -> [JSONValue] {
        try await test { client in
            var responses: [JSONValue] = []
            for i in 0..<count {
                let r = try await client.execute(
                    uri: validatePath, method: .post, headers: headers(),
                    body: ByteBuffer(json: #"{"action": {"type": "shell", "arguments": {"command": "echo \#(i) mail ann@example.com"}}}"#))
                responses.append(r.json)
            }
            return responses
        }
    }

    func get(_ path: String, token: String) async throws -> TestResponse {
        try await test(service: .integrity) { client in
            try await client.execute(uri: path, method: .get, headers: headers(bearer: .some(token)))
        }
    }

    func post(_ path: String, token: String, body: String? = nil, contentType: String? = "application/json") async throws -> TestResponse {
        try await test(service: .integrity) { client in
            try await client.execute(
                uri: path, method: .post, headers: headers(contentType: contentType, bearer: .some(token)), body: body.map { ByteBuffer(json: $0) })
        }
    }
}

@Suite("Integrity service")
struct IntegrityRouterTests {
    @Test func decisionsCarryTheIndexOfTheirMaskedAuditEntry() async throws {
        let h = try await Harness()
        let decisions = try await h.decide(3)
        let token = try await h.auditorToken()
        for decision in decisions {
            let index = try #require(decision["audit_index"].numberValue.map(Int.init))
            let entry = try await h.get("\(integrityPath)/entries/\(index)", token: token)
            #expect(entry.status == .ok)
            #expect(entry.json["entry"]["type"] == "decision")
            #expect(entry.json["entry"]["actor"] == .string(h.agent.id))
            #expect(entry.json["entry"]["payload"]["decision_id"] == decision["decision_id"])
            #expect(entry.json["entry"]["payload"]["evaluation"]["decision"] == decision["decision"])
            let text = CanonicalJSON.encode(entry.json["entry"])
            #expect(!text.contains("ann@example.com"), "personal data is masked in the log")
            #expect(entry.json["entry"]["input_digest"].stringValue?.count == 64, "the digest of the unmasked input is kept")
            #expect(entry.json["leaf_hash"] == .string(MerkleHash.hex(MerkleHash.leaf(Array(text.utf8)))))
            let stored = try #require(try await h.store.find(id: decision["decision_id"].stringValue ?? ""))
            #expect(stored.auditIndex == index)
        }
    }

    @Test func onlyAuditorsAndAdminsRead() async throws {
        let h = try await Harness()
        let auditor = try await h.auditorToken()
        let admin = try await h.signIn(roles: [.admin]).1
        let reviewer = try await h.signIn(roles: [.reviewer]).1
        for path in ["entries", "tree-head", "keys", "proof/consistency?first=0"] {
            #expect(try await h.get("\(integrityPath)/\(path)", token: auditor).status == .ok, "\(path)")
            #expect(try await h.get("\(integrityPath)/\(path)", token: admin).status == .ok, "\(path)")
            #expect(try await h.get("\(integrityPath)/\(path)", token: reviewer).status == .forbidden, "\(path)")
            #expect(try await h.get("\(integrityPath)/\(path)", token: h.agentKey).status == .forbidden, "\(path)")
            #expect(try await h.get("\(integrityPath)/\(path)", token: "not-a-token").status == .unauthorized, "\(path)")
        }
        #expect(try await h.post("\(integrityPath)/keys/rotate", token: auditor).status == .forbidden, "rotation is for admins")
        let anonymous = try await h.test(service: .integrity) { client in
            try await client.execute(uri: "\(integrityPath)/entries", method: .get, headers: h.headers(bearer: .some(nil)))
        }
        #expect(anonymous.status == .unauthorized)
    }

    @Test func entriesArePagedAndFiltered() async throws {
        let h = try await Harness(authEventsToAuditLog: true)
        _ = try await h.decide(5)
        let token = try await h.auditorToken()
        let all = try await h.get("\(integrityPath)/entries?limit=1000", token: token)
        let types = all.json["entries"].arrayValue?.compactMap { $0["entry"]["type"].stringValue } ?? []
        #expect(types.filter { $0 == "decision" }.count == 5)
        #expect(types.contains("auth"), "auth events are audit entries: \(types)")
        let decisions = try await h.get("\(integrityPath)/entries?type=decision&actor=\(h.agent.id)&limit=2", token: token)
        #expect(decisions.json["entries"].arrayValue?.count == 2)
        let next = try #require(decisions.json["next_after"].numberValue.map(Int.init))
        let rest = try await h.get("\(integrityPath)/entries?type=decision&after=\(next)&limit=10", token: token)
        #expect(rest.json["entries"].arrayValue?.count == 3)
        #expect(rest.json["next_after"] == .null)
        let future = try await h.get("\(integrityPath)/entries?since=2999-01-01T00:00:00Z", token: token)
        #expect(future.json["entries"].arrayValue?.isEmpty == true)
        let past = try await h.get("\(integrityPath)/entries?until=2000-01-01T00:00:00.000Z", token: token)
        #expect(past.json["entries"].arrayValue?.isEmpty == true)
        #expect(try await h.get("\(integrityPath)/entries/999999", token: token).status == .notFound)
    }

    @Test func proofsVerifyAgainstTheSignedHeadWithThePublishedKey() async throws {
        let h = try await Harness()
        _ = try await h.decide(7)
        let token = try await h.auditorToken()
        let head = try await h.post("\(integrityPath)/tree-head", token: token)
        #expect(head.status == .created)
        let signed = try #require(SignedTreeHead(json: head.json))
        let keys = try await h.get("\(integrityPath)/keys", token: token)
        let key = try #require(keys.json["keys"].arrayValue?.compactMap(AuditPublicKey.init(json:)).first { $0.keyId == signed.keyId })
        #expect(signed.isSigned(by: key.publicKey))
        #expect(signed.treeSize >= 7)
        #expect(try await h.get("\(integrityPath)/tree-head", token: token).json == head.json)

        for index in 0..<signed.treeSize {
            let proof = try await h.get("\(integrityPath)/proof/inclusion?index=\(index)", token: token)
            #expect(proof.status == .ok)
            let entry = try await h.get("\(integrityPath)/entries/\(index)", token: token)
            let leaf = MerkleHash.leaf(Array(CanonicalJSON.encode(entry.json["entry"]).utf8))
            let path = proof.json["audit_path"].arrayValue?.compactMap { $0.stringValue.flatMap(MerkleHash.bytes(hex:)) } ?? []
            #expect(MerkleTree.verifyInclusion(leafHash: leaf, index: index, treeSize: signed.treeSize, proof: path, root: signed.rootHash))
            #expect(proof.json["tree_head"] == head.json)
        }
        let older = try await h.get("\(integrityPath)/proof/inclusion?index=1&tree_size=3", token: token)
        #expect(older.json["tree_size"] == 3)
        #expect(older.json["tree_head"] == .null)

        let consistency = try await h.get("\(integrityPath)/proof/consistency?first=3&second=\(signed.treeSize)", token: token)
        let firstRoot = try #require(consistency.json["first_root"].stringValue.flatMap(MerkleHash.bytes(hex:)))
        let proof = consistency.json["proof"].arrayValue?.compactMap { $0.stringValue.flatMap(MerkleHash.bytes(hex:)) } ?? []
        #expect(MerkleTree.verifyConsistency(first: 3, second: signed.treeSize, firstRoot: firstRoot, secondRoot: signed.rootHash, proof: proof))
    }

    @Test func theServerSideCheckReportsAValidLog() async throws {
        let h = try await Harness(authEventsToAuditLog: true)
        _ = try await h.decide(4)
        let token = try await h.auditorToken()
        let report = try await h.post("\(integrityPath)/verify", token: token)
        #expect(report.status == .ok)
        #expect(report.json["valid"] == true)
        #expect(report.json["problems"] == [])
        let size = try #require(report.json["tree_size"].numberValue)
        #expect(report.json["signed_tree_size"].numberValue == size, "the check signs everything first")
        #expect(report.json["entries_checked"].numberValue == size)
        let empty = try await h.post("\(integrityPath)/verify", token: token, body: "{}")
        #expect(empty.json["valid"] == true)
    }

    @Test func rotatingTheKeyKeepsOldHeadsVerifiable() async throws {
        let h = try await Harness()
        _ = try await h.decide(2)
        let admin = try await h.signIn(roles: [.admin]).1
        let before = try #require(SignedTreeHead(json: try await h.post("\(integrityPath)/tree-head", token: admin).json))
        let rotated = try await h.post("\(integrityPath)/keys/rotate", token: admin)
        #expect(rotated.status == .created)
        let newKey = try #require(rotated.json["key_id"].stringValue)
        #expect(newKey != before.keyId)
        #expect(rotated.json["tree_head"]["key_id"] == .string(newKey))
        let keys = try await h.get("\(integrityPath)/keys", token: admin).json["keys"].arrayValue ?? []
        #expect(keys.first?["key_id"] == .string(newKey) && keys.first?["status"] == "active")
        #expect(keys.contains { $0["key_id"] == .string(before.keyId) && $0["status"] == "retired" }, "the old public key stays published")
        let report = try await h.post("\(integrityPath)/verify", token: admin)
        #expect(report.json["valid"] == true, "heads of both keys verify: \(report.json["problems"])")
    }

    @Test func headsSignedConcurrentlyAreStoredInSizeOrder() async throws {
        let h = try await Harness()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<30 {
                group.addTask {
                    _ = try await h.runtime.auditLog.append(
                        AuditEvent(type: .system, actor: "system", constitutionalHash: h.hash, payload: ["n": .number(Double(i))]))
                }
                group.addTask { _ = try await h.runtime.treeHeads.sign() }
            }
            try await group.waitForAll()
        }
        let sizes = try await h.audit.heads().map(\.treeSize)
        #expect(sizes.count == 30)
        #expect(sizes == sizes.sorted(), "a smaller head after a larger one would read as a rollback")
        let keys = try await h.runtime.treeHeads.keys.publicKeys()
        _ = try await h.runtime.treeHeads.sign()
        #expect(try await h.audit.verify(keys: keys).valid)
    }

    @Test(.enabled(if: TestStore.canInjectFailures, "needs a store that fails on demand; PostgreSQL stopped for real is the end-to-end fault test"))
    func aDownStoreFailsClosedWithJSON() async throws {
        let h = try await Harness()
        let token = try await h.auditorToken()
        await h.setAuditFailing(true)
        for path in ["entries", "entries/0", "tree-head", "proof/inclusion?index=0"] {
            let response = try await h.get("\(integrityPath)/\(path)", token: token)
            #expect(response.status == .serviceUnavailable, "\(path)")
            #expect(response.errorCode != nil, "\(path): a JSON error")
        }
        let verify = try await h.post("\(integrityPath)/verify", token: token)
        #expect(verify.status == .serviceUnavailable)
        #expect(verify.errorCode == "audit_log_unavailable")
        let validate = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"content": "hi"}"#))
        }
        #expect(validate.status == .serviceUnavailable)
        #expect(validate.json["decision"] == .null)
        await h.setAuditFailing(false)
        #expect(try await h.store.count() == 0, "no decision without its audit entry")
    }

    @Test(.enabled(if: TestStore.canInjectFailures, "needs a store that fails on demand"))
    func authOperationsFailClosedWhenTheyCannotBeAudited() async throws {
        let h = try await Harness(authEventsToAuditLog: true)
        _ = try await h.auth.createUser(username: "ann", password: "a long enough password", roles: [.reviewer], by: nil)
        await h.setAuditFailing(true)
        let grant = try await h.test(service: .auth) { client in
            try await client.execute(
                uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                body: ByteBuffer(json: #"{"grant_type": "password", "username": "ann", "password": "a long enough password"}"#))
        }
        #expect(grant.status == .serviceUnavailable)
        #expect(grant.json["access_token"] == .null)
    }
}

@Suite("Integrity service: bad input")
struct IntegrityBadInputTests {
    @Test(arguments: [
        ("entries?limit=0", "invalid_parameter"),
        ("entries?limit=1001", "invalid_parameter"),
        ("entries?limit=ten", "invalid_parameter"),
        ("entries?after=-2", "invalid_parameter"),
        ("entries?type=gossip", "invalid_parameter"),
        ("entries?since=yesterday", "invalid_parameter"),
        ("entries?colour=red", "invalid_parameter"),
        ("entries?limit=1&limit=2", "invalid_parameter"),
        ("entries/abc", "invalid_parameter"),
        ("entries/-1", "invalid_parameter"),
        ("proof/inclusion", "invalid_parameter"),
        ("proof/inclusion?index=x", "invalid_parameter"),
        ("proof/inclusion?index=5&tree_size=3", "invalid_parameter"),
        ("proof/inclusion?index=0&tree_size=100000", "invalid_parameter"),
        ("proof/consistency", "invalid_parameter"),
        ("proof/consistency?first=5&second=2", "invalid_parameter"),
        ("tree-head?fresh=1", "invalid_parameter"),
    ])
    func badQueriesAre400WithACode(path: String, code: String) async throws {
        let h = try await Harness()
        let token = try await h.auditorToken()
        let response = try await h.get("\(integrityPath)/\(path)", token: token)
        #expect(response.status == .badRequest, "\(path): \(response.json)")
        #expect(response.errorCode == code, "\(path)")
    }

    @Test(arguments: [
        (#"{"x": 1}"#, HTTPResponse.Status.badRequest, "application/json"),
        (#"{"#, .badRequest, "application/json"),
        (#"[]"#, .badRequest, "application/json"),
        ("x=1", .unsupportedMediaType, "application/x-www-form-urlencoded"),
        (String(repeating: " ", count: 5_000) + "{}", .contentTooLarge, "application/json"),
    ])
    func postBodiesMustBeEmptyObjects(body: String, status: HTTPResponse.Status, contentType: String) async throws {
        let h = try await Harness()
        let token = try await h.auditorToken()
        for path in ["verify", "tree-head"] {
            let response = try await h.post("\(integrityPath)/\(path)", token: token, body: body, contentType: contentType)
            #expect(response.status == status, "\(path): \(response.json)")
            #expect(response.errorCode != nil)
        }
    }

    @Test func theConstitutionalHashIsChecked() async throws {
        let h = try await Harness()
        let token = try await h.auditorToken()
        let wrong = try await h.test(service: .integrity) { client in
            try await client.execute(uri: "\(integrityPath)/entries", method: .get, headers: h.headers(hash: "0000000000000000", bearer: .some(token)))
        }
        #expect(wrong.status == .conflict)
        #expect(wrong.errorCode == "constitutional_hash_mismatch")
    }
}
