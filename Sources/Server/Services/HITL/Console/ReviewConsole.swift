import AuditLog
import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import Identity
import Storage

/// The reviewers' web console, served by the Agent HITL service: sign in, the queue with its
/// deadlines, a request in detail, and approve / deny / request changes with a reason.
///
/// The session is the access token in an HttpOnly, SameSite=Strict cookie scoped to `/console`;
/// every form carries a CSRF token that must match the `acgs_csrf` cookie (double submit), compared
/// in constant time. Every value is escaped; the pages allow only their own script and style.
struct ReviewConsole {
    typealias Context = ACGSRequestContext
    let runtime: GovernanceRuntime
    var desk: ReviewDesk { runtime.reviews }

    static let sessionCookie = "acgs_console"
    static let csrfCookie = "acgs_csrf"

    func addRoutes(to router: Router<Context>) {
        router.get("/console/assets/console.js") { _, _ in Self.asset(HTML.script, type: "text/javascript; charset=utf-8") }
        router.get("/console/assets/console.css") { _, _ in Self.asset(HTML.style, type: "text/css; charset=utf-8") }
        router.get("/console/login", use: loginPage)
        router.post("/console/login", use: login)
        router.post("/console/logout", use: logout)
        router.get("/console", use: queuePage)
        router.get("/console/reviews/:id", use: detailPage)
        router.post("/console/reviews/:id/decision", use: decide)
    }

    // MARK: signing in

    @Sendable func loginPage(_ request: Request, context: Context) async throws -> Response {
        let csrf = Self.cookie(Self.csrfCookie, in: request) ?? Credentials.random(32)
        return Self.page(loginForm(csrf: csrf, error: nil), title: "Sign in", user: nil, csrf: nil, setting: [Self.csrfCookieHeader(csrf)])
    }

    private func loginForm(csrf: String, error: String?) -> String {
        """
        \(error.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? "")
        <form method="post" action="/console/login">
        <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <label for="totp">One-time code (if enrolled)</label>
        <input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code">
        <button type="submit">Sign in</button>
        </form>
        """
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> Response {
        let form = try await Self.form(request)
        let csrf = try Self.checkCSRF(form, request)
        do {
            let grant = try await runtime.auth.passwordGrant(
                username: form["username"] ?? "", password: form["password"] ?? "", otp: form["totp"].flatMap { $0.isEmpty ? nil : $0 })
            guard grant.principal.has(anyOf: Set(HITLController.reviewerRoles)) else {
                return Self.page(loginForm(csrf: csrf, error: "This account does not review requests."), title: "Sign in", user: nil, csrf: nil, status: .forbidden)
            }
            var response = Self.redirect("/console")
            response.headers.append(HTTPField(name: .setCookie, value: "\(Self.sessionCookie)=\(grant.accessToken); Path=/console; HttpOnly; SameSite=Strict; Max-Age=\(grant.expiresIn)"))
            return response
        } catch .unavailable {
            throw APIError.unavailable("sign-in is unavailable; retry later", code: "identity_store_unavailable")
        } catch {
            return Self.page(loginForm(csrf: csrf, error: "The username, password or code was not accepted."), title: "Sign in", user: nil, csrf: nil, status: .unauthorized)
        }
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        _ = try Self.checkCSRF(try await Self.form(request), request)
        var response = Self.redirect("/console/login")
        response.headers.append(HTTPField(name: .setCookie, value: "\(Self.sessionCookie)=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"))
        return response
    }

    // MARK: the queue and a request

    @Sendable func queuePage(_ request: Request, context: Context) async throws -> Response {
        guard let (principal, csrf) = try await session(request) else { return Self.redirect("/console/login") }
        let reviews = try await store { try await desk.repository.list(ReviewQuery(states: [.pending, .inReview, .escalated], limit: 200)) }
        var rows = ""
        for r in reviews {
            rows += """
                <tr><td><a href="/console/reviews/\(HTML.escape(r.id))">\(HTML.escape(r.id))</a></td>
                <td>\(HTML.escape(r.level.rawValue))</td><td>\(HTML.escape(r.state.rawValue))</td>
                <td>\(String(format: "%.2f", r.risk.score))</td><td>\(HTML.escape(r.action["type"].stringValue ?? ""))</td>
                <td>\(HTML.escape(r.assignee ?? "—"))</td><td>\(HTML.deadline(AuditClock.format(r.deadline)))</td></tr>
                """
        }
        let body = reviews.isEmpty
            ? "<p>No request is waiting.</p>"
            : """
            <table><caption>Requests waiting for a decision, most urgent first</caption>
            <thead><tr><th scope="col">Request</th><th scope="col">Level</th><th scope="col">State</th><th scope="col">Risk</th>
            <th scope="col">Action</th><th scope="col">Assigned to</th><th scope="col">Deadline</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            """
        return Self.page(body, title: "Review queue", user: principal.name, csrf: csrf)
    }

    @Sendable func detailPage(_ request: Request, context: Context) async throws -> Response {
        guard let (principal, csrf) = try await session(request) else { return Self.redirect("/console/login") }
        let id = try context.parameters.require("id")
        guard let review = try await store({ try await desk.repository.find(id: id) })?.request else {
            return Self.page("<p>No such request.</p>", title: "Not found", user: principal.name, csrf: csrf, status: .notFound)
        }
        return Self.page(try await detail(review, csrf: csrf, error: nil), title: "Request \(review.id)", user: principal.name, csrf: csrf)
    }

    private func detail(_ r: ReviewRequest, csrf: String, error: String?) async throws -> String {
        let pretty = { (value: JSONValue) -> String in HTML.escape(Self.pretty(value)) }
        var rules = "<p>No rule matched.</p>"
        if let decisionId = r.decisionId, let decision = try? await runtime.decisions.find(id: decisionId) {
            rules = "<pre>\(HTML.escape(Self.pretty((try? JSONValue.parse(decision.violations)) ?? .null)))</pre>"
        }
        let factors = r.risk.factors.map { "<li>\(HTML.escape($0.name)) (\(String(format: "%.2f", $0.weight))): \(HTML.escape($0.detail))</li>" }.joined()
        let history = try await runtime.auditLog.repository.decisionCounts(
            actor: r.requester, since: AuditClock.milliseconds(Date().addingTimeInterval(-24 * 3600)))
        let votes = r.votes.map { "<li>\(HTML.escape($0.reviewer)): \(HTML.escape($0.verdict.rawValue)) — \(HTML.escape($0.reason))</li>" }.joined()
        var form = ""
        if !r.state.isFinal {
            let principleField = r.level == .constitutionalCouncil
                ? #"<label for="principle">Principle the approval rests on</label><input id="principle" name="principle">"#
                : ""
            form = """
                <h2>Decide</h2>
                <form method="post" action="/console/reviews/\(HTML.escape(r.id))/decision">
                <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
                <fieldset><legend>Decision</legend>
                <label><input type="radio" name="decision" value="approve" required> Approve</label>
                <label><input type="radio" name="decision" value="deny"> Deny</label>
                <label><input type="radio" name="decision" value="request_changes"> Request changes</label>
                </fieldset>
                <label for="reason">Reason (required)</label>
                <textarea id="reason" name="reason" rows="3" required></textarea>
                \(principleField)
                <label for="changed_arguments">Changed arguments, as JSON (for request changes)</label>
                <textarea id="changed_arguments" name="changed_arguments" rows="3"></textarea>
                <button type="submit">Submit decision</button>
                </form>
                """
        }
        return """
            \(error.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? "")
            <dl>
            <dt>State</dt><dd id="state">\(HTML.escape(r.state.rawValue))</dd>
            <dt>Level</dt><dd>\(HTML.escape(r.level.rawValue))</dd>
            <dt>Deadline</dt><dd>\(HTML.deadline(AuditClock.format(r.deadline)))</dd>
            <dt>Agent</dt><dd>\(HTML.escape(r.requester)) — \(history.denials) denials and \(history.escalations) escalations in the last 24 hours</dd>
            <dt>Reason given</dt><dd>\(HTML.escape(r.reason ?? "—"))</dd>
            </dl>
            <h2>Action</h2><pre>\(pretty(r.action))</pre>
            <h2>Context</h2><pre>\(pretty(r.context))</pre>
            <h2>Matched rules and masked evidence</h2>\(rules)
            <h2>Risk \(String(format: "%.2f", r.risk.score))</h2><ul>\(factors)</ul>
            <h2>Decisions so far</h2>\(votes.isEmpty ? "<p>None.</p>" : "<ul>\(votes)</ul>")
            \(form)
            """
    }

    @Sendable func decide(_ request: Request, context: Context) async throws -> Response {
        guard let (principal, csrf) = try await session(request) else { return Self.redirect("/console/login") }
        let form = try await Self.form(request)
        _ = try Self.checkCSRF(form, request)
        let id = try context.parameters.require("id")
        func again(_ message: String, _ status: HTTPResponse.Status) async throws -> Response {
            let stored = try await store { try await desk.repository.find(id: id) }
            guard let review = stored?.request else {
                return Self.page("<p>No such request.</p>", title: "Not found", user: principal.name, csrf: csrf, status: .notFound)
            }
            return Self.page(try await detail(review, csrf: csrf, error: message), title: "Request \(review.id)", user: principal.name, csrf: csrf, status: status)
        }
        guard let verdict = form["decision"].flatMap(ReviewVerdict.init(rawValue:)) else { return try await again("Choose a decision.", .badRequest) }
        var changes: JSONValue?
        if let text = form["changed_arguments"], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard let parsed = try? JSONValue.parse(text), parsed.objectValue != nil else {
                return try await again("Changed arguments must be a JSON object.", .badRequest)
            }
            changes = parsed
        }
        let vote = ReviewVote(
            reviewer: principal.id, verdict: verdict, reason: form["reason"] ?? "", principle: form["principle"].flatMap { $0.isEmpty ? nil : $0 },
            changedArguments: changes, level: .technicalReview, at: Date())
        let actor = HITLController.actor(principal)
        let policy = desk.policy
        do {
            _ = try await desk.apply("decision", to: id, by: principal.id) { r, at in try r.decide(vote, by: actor, policy: policy, at: at) }
        } catch let error as ReviewError {
            let api = HITLController.apiError(error)
            return try await again(api.message, api.status)
        }
        return Self.redirect("/console/reviews/\(id)")
    }

    // MARK: helpers

    /// The signed-in reviewer and the CSRF token, or nil (sign in again).
    private func session(_ request: Request) async throws -> (Principal, String)? {
        guard let token = Self.cookie(Self.sessionCookie, in: request), let csrf = Self.cookie(Self.csrfCookie, in: request) else { return nil }
        do {
            let principal = try await runtime.auth.authenticate(bearer: token).0
            return principal.has(anyOf: Set(HITLController.reviewerRoles)) ? (principal, csrf) : nil
        } catch .unavailable {
            throw APIError.unavailable("the identity store is unavailable; retry later", code: "identity_store_unavailable")
        } catch {
            return nil
        }
    }

    private func store<T>(_ body: () async throws -> T) async throws -> T {
        try await APIError.unavailableOnFailure(
            code: "review_store_unavailable", message: "the review store cannot be used now; retry later", logger: runtime.logger, body)
    }

    static func checkCSRF(_ form: [String: String], _ request: Request) throws -> String {
        guard let cookie = cookie(csrfCookie, in: request), let field = form["csrf"], Credentials.constantTimeEquals(cookie, field) else {
            throw APIError(.forbidden, code: "csrf", message: "the form is stale or was not sent from this console; reload it")
        }
        return cookie
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0] == name, !pair[1].isEmpty { return String(pair[1]) }
            }
        }
        return nil
    }

    static func form(_ request: Request) async throws -> [String: String] {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/x-www-form-urlencoded") {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "forms are sent as application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the form exceeds 64 KiB")
        }
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let key = kv.first, !key.isEmpty { fields[key] = kv.count > 1 ? kv[1] : "" }
        }
        return fields
    }

    static func csrfCookieHeader(_ csrf: String) -> HTTPField {
        HTTPField(name: .setCookie, value: "\(csrfCookie)=\(csrf); Path=/console; SameSite=Strict")
    }

    static func page(
        _ body: String, title: String, user: String?, csrf: String?, status: HTTPResponse.Status = .ok, setting cookies: [HTTPField] = []
    ) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(HTML.page(title: title, signedInAs: user, csrf: csrf, body: body))
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ]
        headers.append(contentsOf: cookies)
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func asset(_ text: String, type: String) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"], body: .init(byteBuffer: buffer))
    }

    static func pretty(_ value: JSONValue) -> String {
        guard let data = try? JSONEncoder().encode(value), let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        else { return CanonicalJSON.encode(value) }
        return String(decoding: pretty, as: UTF8.self)
    }
}
