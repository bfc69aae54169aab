import Foundation
import GovernanceCore
import Testing

/// Each test runs `acgs` as a process and waits for it, which holds one of the few threads that
/// tasks share: one at a time, so the rest of the suite keeps its timers.
@Suite("acgs validate and acgs constitution", .serialized)
struct CommandLineTests {
    @Test(arguments: [
        (#"{"content": "Summarise the meeting notes for the team."}"#, Int32(0), "ALLOW"),
        (#"{"action": {"type": "shell", "tool": "bash", "arguments": {"command": "rm -rf /"}}}"#, Int32(1), "DENY"),
        (#"{"action": {"type": "deploy", "tool": "kubectl", "arguments": {"command": "kubectl apply -f api.yaml"}}, "context": {"environment": "production"}}"#, Int32(2), "ESCALATE"),
        (#"{"action": "#, Int32(3), "not valid JSON"),
        (#"{"contnt": "x"}"#, Int32(3), "unknown field 'contnt'"),
    ])
    func validateExitStatusFollowsTheDecision(input: String, status: Int32, output: String) async throws {
        let result = try await run(try acgsBinary(), ["validate"], stdin: input)
        #expect(result.status == status, "\(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains(output))
    }

    @Test func validateJSONIsTheAPIShape() async throws {
        let result = try await run(try acgsBinary(), ["validate", "--json", "-"], stdin: #"{"action": {"type": "shell", "arguments": {"command": "rm -rf /"}}}"#)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout.utf8))
        #expect(json["decision"] == "deny")
        #expect(json["compliant"] == false)
        #expect(json["constitutional_hash"] == "cdd01ef066bc6cf2")
        #expect(json["violations"].arrayValue?.isEmpty == false)
    }

    @Test func usageErrorsExitWith3() async throws {
        let result = try await run(try acgsBinary(), ["validate", "--no-such-flag"])
        #expect(result.status == 3)
    }

    @Test func constitutionCheckReportsEveryErrorWithPosition() async throws {
        let dir = try temporaryDirectory()
        let file = dir + "/broken.yaml"
        try """
            metadata:
              name: Broken
              version: 1.0.0
            principles:
              - id: p
                title: P
                description: d
                category: c
                severity: high
            rules:
              - id: first
                principle: p
                effect: deny
                severity: high
                message: m
                condition: action.type == "shell" && contians(content, "x")
              - id: second
                principle: p
                effect: deny
                severity: high
                message: m
                condition: |
                  content ==
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await run(try acgsBinary(), ["constitution", "check", file])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file):16:42: rule first: unknown function 'contians'"))
        #expect(result.stderr.contains("rule second: expected a value"))
    }

    @Test func constitutionHashAndShowAgree() async throws {
        let binary = try acgsBinary()
        let dir = try temporaryDirectory()
        let shown = try await run(binary, ["constitution", "show"])
        #expect(shown.status == 0)
        try shown.stdout.write(toFile: dir + "/reference.yaml", atomically: true, encoding: .utf8)
        let hash = try await run(binary, ["constitution", "hash", dir + "/reference.yaml"])
        #expect(hash.stdout.contains("hash   cdd01ef066bc6cf2"))
        #expect(hash.stdout.contains("digest \(ReferenceConstitution.pinnedDigest)"))
        let check = try await run(binary, ["constitution", "check", dir + "/reference.yaml"])
        #expect(check.status == 0)
        #expect(check.stdout.contains("hash cdd01ef066bc6cf2"))
    }
}

@Suite("acgs agent, user and keys")
struct IdentityCommandTests {
    @Test func createsIdentitiesAndRotatesKeysOffline() async throws {
        let binary = try acgsBinary()
        let dir = try temporaryDirectory()
        let agent = try await run(binary, ["agent", "create", "ci-bot", "--owner", "platform", "--data-dir", dir])
        #expect(agent.status == 0, "\(agent.stderr)")
        #expect(agent.stdout.contains("api key acgs_"))
        let user = try await run(binary, ["user", "create", "olga", "--role", "reviewer", "--role", "auditor", "--password-stdin", "--data-dir", dir], stdin: "olga's long password\n")
        #expect(user.status == 0, "\(user.stderr)")
        #expect(user.stdout.contains("roles reviewer,auditor"))
        let again = try await run(binary, ["user", "create", "olga", "--role", "reviewer", "--data-dir", dir])
        #expect(again.status == 3, "a duplicate username is refused")
        let badRole = try await run(binary, ["user", "create", "x", "--role", "emperor", "--data-dir", dir])
        #expect(badRole.status == 3 && badRole.stderr.contains("unknown role 'emperor'"))
        let keysBefore = try FileManager.default.contentsOfDirectory(atPath: dir + "/keys").filter { $0.hasSuffix(".json") }
        let rotated = try await run(binary, ["keys", "rotate", "--data-dir", dir])
        #expect(rotated.status == 0 && rotated.stdout.hasPrefix("active signing key "))
        let keysAfter = try FileManager.default.contentsOfDirectory(atPath: dir + "/keys").filter { $0.hasSuffix(".json") }
        #expect(keysAfter.count == keysBefore.count + 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/keys/" + keysAfter[0])
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
