import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Server

@Suite("Reviewers' console")
struct ConsoleTests {
    static func cookies(_ response: TestResponse) -> [String: String] {
        var jar: [String: String] = [:]
        for value in response.headers[values: .setCookie] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2 { jar[String(pair[0])] = String(pair[1]) }
        }
        return jar
    }

    static func headers(_ jar: [String: String], form: Bool = false) -> HTTPFields {
        var h: HTTPFields = [.cookie: jar.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
        if form { h[.contentType] = "application/x-www-form-urlencoded" }
        return h
    }

    /// Signs in through the form; returns the cookie jar.
    static func signIn(_ h: Harness, username: String, password: String) async throws -> (TestResponse, [String: String]) {
        try await h.test(service: .agentHITL) { client in
            let page = try await client.execute(uri: "/console/login", method: .get)
            var jar = cookies(page)
            let csrf = jar["acgs_csrf"] ?? ""
            let body = "csrf=\(csrf)&username=\(username)&password=\(password.replacingOccurrences(of: " ", with: "+"))"
            let response = try await client.execute(uri: "/console/login", method: .post, headers: headers(jar, form: true), body: ByteBuffer(string: body))
            jar.merge(cookies(response)) { $1 }
            return (response, jar)
        }
    }

    @Test func pagesNeedASignedInReviewerAndCarryAStrictPolicy() async throws {
        let h = try await Harness()
        let anonymous = try await h.test(service: .agentHITL) { try await $0.execute(uri: "/console", method: .get) }
        #expect(anonymous.status == .seeOther && anonymous.headers[.location] == "/console/login")
        let login = try await h.test(service: .agentHITL) { try await $0.execute(uri: "/console/login", method: .get) }
        #expect(login.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        #expect(Self.cookies(login)["acgs_csrf"]?.isEmpty == false)
        #expect(!String(buffer: login.body).contains("<script>"), "no inline script")

        _ = try await h.auth.createUser(username: "ann", password: "a long enough password", roles: [.auditor], by: nil)
        let (refused, _) = try await Self.signIn(h, username: "ann", password: "a long enough password")
        #expect(refused.status == .forbidden, "an auditor does not review")
        let (wrong, _) = try await Self.signIn(h, username: "ann", password: "not the password")
        #expect(wrong.status == .unauthorized)
    }

    @Test func formsWithoutTheCSRFTokenAreRefused() async throws {
        let h = try await Harness()
        _ = try await h.auth.createUser(username: "rev", password: "a long enough password", roles: [.reviewer], by: nil)
        let forged = try await h.test(service: .agentHITL) { client in
            try await client.execute(
                uri: "/console/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "acgs_csrf=abc"],
                body: ByteBuffer(string: "csrf=xyz&username=rev&password=a+long+enough+password"))
        }
        #expect(forged.status == .forbidden)
        let (ok, jar) = try await Self.signIn(h, username: "rev", password: "a long enough password")
        #expect(ok.status == .seeOther && jar["acgs_console"]?.isEmpty == false)
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", body: HITLRouterTests.transfer).json["id"].stringValue)
        let noToken = try await h.test(service: .agentHITL) { client in
            try await client.execute(
                uri: "/console/reviews/\(id)/decision", method: .post, headers: Self.headers(jar, form: true),
                body: ByteBuffer(string: "decision=approve&reason=fine"))
        }
        #expect(noToken.status == .forbidden)
        let approved = try await h.test(service: .agentHITL) { client in
            try await client.execute(
                uri: "/console/reviews/\(id)/decision", method: .post, headers: Self.headers(jar, form: true),
                body: ByteBuffer(string: "csrf=\(jar["acgs_csrf"] ?? "")&decision=approve&reason=fine"))
        }
        #expect(approved.status == .seeOther)
        #expect(try await h.hitl(.get, "/api/v1/reviews/\(id)").json["state"] == "approved")
    }

    @Test func everythingFromDataIsEscaped() async throws {
        let h = try await Harness()
        _ = try await h.auth.createUser(username: "rev", password: "a long enough password", roles: [.reviewer], by: nil)
        let hostile = #"{"action": {"type": "<img src=x onerror=alert(1)>"}, "context": {"amount": 20000, "irreversible": true}, "reason": "<script>alert('x')</script>"}"#
        let id = try #require(try await h.hitl(.post, "/api/v1/reviews", body: hostile).json["id"].stringValue)
        let (_, jar) = try await Self.signIn(h, username: "rev", password: "a long enough password")
        let (queue, detail) = try await h.test(service: .agentHITL) { client in
            (
                try await client.execute(uri: "/console", method: .get, headers: Self.headers(jar)),
                try await client.execute(uri: "/console/reviews/\(id)", method: .get, headers: Self.headers(jar))
            )
        }
        for page in [String(buffer: queue.body), String(buffer: detail.body)] {
            #expect(!page.contains("<img src=x"))
            #expect(!page.contains("<script>alert"))
            #expect(page.contains("&lt;img src=x onerror=alert(1)&gt;"))
        }
        #expect(String(buffer: detail.body).contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
    }
}
