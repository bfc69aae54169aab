import GovernanceCore
import Hummingbird

/// The Constitutional AI service: judges agent actions and content against the active constitution.
struct ConstitutionalAIController<Context: RequestContext> {
    let runtime: GovernanceRuntime
    var decisions: DecisionService { DecisionService(runtime: runtime) }

    static var maxBodyBytes: Int { 1024 * 1024 }
    static var maxBatchBodyBytes: Int { 16 * 1024 * 1024 }
    static var maxBatchSize: Int { 1000 }

    func addRoutes(to router: Router<Context>) {
        router.post("/api/v1/constitutional/validate", use: validate)
        router.post("/api/v1/constitutional/validate/batch", use: validateBatch)
        router.get("/api/v1/constitutional/principles", use: principles)
        router.get("/api/v1/constitution", use: constitution)
    }

    @Sendable func validate(_ request: Request, context: Context) async throws -> Response {
        let body = try await request.jsonBytes(limit: Self.maxBodyBytes)
        let decision = try await decisions.decide(body: body, agent: .null) { json, constitution in
            try ValidateRequest(json).judgedInput(agent: .null, constitution: constitution)
        }
        return JSONResponse.make(text: DecisionJSON.encodedResponse(decision))
    }

    @Sendable func validateBatch(_ request: Request, context: Context) async throws -> Response {
        let body = try BatchValidateRequest(try await request.jsonBody(limit: Self.maxBatchBodyBytes), maxInputs: Self.maxBatchSize)
        let constitution = runtime.constitution
        // Every input is checked before any is judged, so a bad batch records nothing.
        var inputs: [(JudgedInput, Set<String>?)] = []
        for (i, item) in body.inputs.enumerated() {
            inputs.append(try item.judgedInput(agent: .null, constitution: constitution, path: "inputs[\(i)]"))
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
