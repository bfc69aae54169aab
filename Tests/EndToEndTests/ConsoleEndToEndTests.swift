import Foundation
import GovernanceCore
import Testing

/// The reviewers' console in a real browser (headless Chromium, driven by `scripts/console-e2e.py`):
/// sign in, find the request, approve it; the agent waiting on it learns at once.
extension ServeEndToEndTests {
    @Test func aReviewerApprovesInTheConsoleAndTheWaitingAgentLearnsIt() async throws {
        let data = try temporaryDirectory()
        let binary = try acgsBinary()
        let key = try await createAgent("console-agent", dataDirectory: data)
        let password = "a reviewer's long password"
        let user = try await run(binary, ["user", "create", "rita", "--role", "reviewer", "--password-stdin", "--data-dir", data], stdin: password)
        #expect(user.status == 0, "\(user.stderr)")

        let server = try await ServerProcess(arguments: ["--data-dir", data], environment: ["ACGS_ADMIN_PASSWORD": Self.password])
        defer { _ = server.stop() }
        try await server.waitUntilServing("http://localhost:8008/health/ready")
        let opened = try await HTTP.call(
            "POST", "http://localhost:8008/api/v1/reviews", bearer: key,
            body: #"{"action": {"type": "tool_call", "tool": "bank"}, "context": {"amount": 20000, "irreversible": true}, "reason": "quarterly payout"}"#)
        let id = try #require(opened.json["id"].stringValue, "\(opened)")
        #expect(opened.json["state"] == "pending")

        async let waited = HTTP.call("GET", "http://localhost:8008/api/v1/reviews/\(id)?wait=60", bearer: key)
        let browser = try await run("/usr/bin/python3", [repositoryFile("scripts/console-e2e.py"), "http://localhost:8008", "rita", password, id])
        #expect(browser.status == 0, "\(browser.stdout)\(browser.stderr)")
        let outcome = try await waited
        #expect(outcome.json["state"] == "approved")
        #expect(outcome.json["votes"][0]["reason"] == "Within the change window; amounts match the ticket.")
    }
}
