import GovernanceCore
import Hummingbird
import Identity
import Storage

/// The Constitutional AI service: judges agent actions and content against the active constitution.
struct ConstitutionalAIController {
    typealias Context = ACGSRequestContext
    let runtime: GovernanceRuntime
    var decisions: DecisionService { DecisionService(runtime: runtime) }

    static var maxBodyBytes: Int { 1024 * 1024 }
    static var maxBatchBodyBytes: Int { 16 * 1024 * 1024 }
    static var maxBatchSize: Int { 1000 }

    func addRoutes(to router: Router<Context>) {
        // Agents ask for decisions (admins too, to test rules); every signed-in role may read the rules.
        let decide = router.group("/api/v1/constitutional").add(middleware: RequireRoles(.agent, .admin))
        decide.post("validate", use: validate)
        decide.post("validate/batch", use: validateBatch)
        let read = router.group("/api/v1").add(middleware: RequireRoles(Role.allCases))
        read.get("constitutional/principles", use: principles)
        read.get("constitution", use: constitution)
    }

    @Sendable func validate(_ request: Request, context: Context) async throws -> Response {
        let body = try await request.jsonBytes(limit: Self.maxBodyBytes)
        // The acting identity comes from the credentials, never from the body.
        let principal = context.principal
        let decision = try await decisions.decide(body: body, principal: principal) { json, constitution in
            try ValidateRequest(json).judgedInput(
                agent: principal?.asRuleInput ?? .null, constitution: constitution, narrowing: Self.mayNarrowPrinciples(principal))
        }
        return JSONResponse.make(text: DecisionJSON.encodedResponse(decision))
    }

    /// Whether the caller's `principles` limit its evaluation: only a person's (an admin testing
    /// rules). An agent does not choose the principles it is judged by.
    static func mayNarrowPrinciples(_ principal: Principal?) -> Bool {
        principal?.kind == .user
    }

    @Sendable func validateBatch(_ request: Request, context: Context) async throws -> Response {
        let body = try BatchValidateRequest(try await request.jsonBody(limit: Self.maxBatchBodyBytes), maxInputs: Self.maxBatchSize)
        let constitution = runtime.constitution
        // Every input is checked before any is judged, so a bad batch records nothing.
        var inputs: [(JudgedInput, Set<String>?)] = []
        for (i, item) in body.inputs.enumerated() {
            inputs.append(
                try item.judgedInput(
                    agent: context.principal?.asRuleInput ?? .null, constitution: constitution,
                    narrowing: Self.mayNarrowPrinciples(context.principal), path: "inputs[\(i)]"))
        }
        let results = try await decisions.decide(inputs)
        let items = results.map(DecisionJSON.encodedResponse).joined(separator: ",")
        return JSONResponse.make(text: #"{"constitutional_hash":"\#(constitution.hash)","count":\#(results.count),"results":["# + items + "]}")
    }

    @Sendable func principles(_ request: Request, context: Context) async throws -> Response {
        let c = runtime.constitution
        return JSONResponse.make(
            .object([
                "principles": .array(c.document.principles.map(ConstitutionJSON.principle)),
                "count": .number(Double(c.document.principles.count)),
                "constitutional_hash": .string(c.hash),
                "constitution_version": .string(c.version),
            ]))
    }

    @Sendable func constitution(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(ConstitutionJSON.document(runtime.constitution))
    }
}

enum ConstitutionJSON {
    static func principle(_ p: Principle) -> JSONValue {
        .object([
            "id": .string(p.id), "title": .string(p.title), "description": .string(p.description),
            "category": .string(p.category), "severity": .string(p.severity.rawValue),
        ])
    }

    static func document(_ c: CompiledConstitution) -> JSONValue {
        let d = c.document
        guard case .object(var fields) = d.canonicalValue else { return .null }
        fields["constitutional_hash"] = .string(c.hash)
        fields["digest"] = .string(c.identity.digest)
        fields["version"] = .string(d.version)
        fields["name"] = .string(d.name)
        fields["rule_count"] = .number(Double(d.rules.count))
        fields["principle_count"] = .number(Double(d.principles.count))
        return .object(fields)
    }
}
