import Foundation
import Testing

/// Random bad input on every route of a live server (`scripts/fuzz-api.py`, with a fixed seed):
/// malformed and truncated JSON, wrong types, unknown and missing fields, oversized and deeply
/// nested bodies, bytes that are not UTF-8, odd ids and query strings, missing, wrong and forged
/// tokens and hashes. Every answer must be below 500 (503 aside) and every error a JSON body with an
/// `error` field; no request may hang, and the server must still be up and stop cleanly.
extension ServeEndToEndTests {
    @Test func randomBadInputOnEveryRouteIsAnsweredWithAClearError() async throws {
        let data = try temporaryDirectory()
        let key = try await createAgent("fuzz-agent", dataDirectory: data)

        // Private networks allowed, so that the fuzzer's webhooks (to a closed port on 127.0.0.1) are
        // registered and their routes reached; deliveries to them fail locally.
        let server = try await ServerProcess(
            arguments: ["--data-dir", data],
            environment: ["ACGS_ADMIN_PASSWORD": Self.password, "ACGS_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true"])
        defer { _ = server.stop() }
        for port in [32768, 8016, 8002, 8008] { try await server.waitUntilServing("http://localhost:\(port)/health/ready") }
        let fuzz = try await run(
            "/usr/bin/python3", [repositoryFile("scripts/fuzz-api.py"), "--admin-password", Self.password, "--agent-key", key, "--seconds", "8", "--seed", "7", "--timeout", "60"])
        #expect(fuzz.status == 0, "\(fuzz.stdout)\(fuzz.stderr)")
        #expect(fuzz.stdout.contains("200: ") && fuzz.stdout.contains("400: "), "the fuzzer reached the handlers: \(fuzz.stdout)")
        #expect(server.stop() == 0, "\(server.logText.suffix(2_000))")
    }
}
