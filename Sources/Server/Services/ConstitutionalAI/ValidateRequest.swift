import GovernanceCore

/// The body of `POST /api/v1/constitutional/validate`: the ACGS-2 form `{content, context,
/// principles}` or the structured form `{action, content, context}`.
struct ValidateRequest: Sendable {
    var action: JSONValue?
    var content: String?
    var context: [String: JSONValue]?
    var principles: [String]?

    init(_ json: JSONValue, path: String = "") throws(APIError) {
        let body = try JSONFields(json, path: path, allowed: ["action", "content", "context", "principles"])
        content = try body.string("content")
        context = try body.object("context")
        principles = try body.stringArray("principles")
        if let raw = body.fields["action"], !raw.isNull {
            let actionPath = JSONFields.join(path, "action")
            let a = try JSONFields(raw, path: actionPath, allowed: ["type", "tool", "arguments", "target", "description"])
            let type = try a.string("type", required: true) ?? ""
            guard !type.trimmingWhitespace.isEmpty else {
                throw APIError.badRequest("field '\(actionPath).type' must not be empty", code: "invalid_request")
            }
            var fields: [String: JSONValue] = ["type": .string(type)]
            if let tool = try a.string("tool") { fields["tool"] = .string(tool) }
            if let arguments = try a.object("arguments") { fields["arguments"] = .object(arguments) }
            if let target = try a.string("target") { fields["target"] = .string(target) }
            if let description = try a.string("description") { fields["description"] = .string(description) }
            action = .object(fields)
        }
        guard action != nil || content != nil else {
            throw APIError.badRequest("\(JSONFields.name(path)): a request needs 'content', 'action', or both", code: "invalid_request")
        }
    }

    /// The judged input. `agent` comes from the caller's credentials, never from the body.
    /// `narrowing`: whether `principles` limits the evaluation, for a person testing rules. An agent is
    /// judged by the whole constitution whatever principles it names (they are still checked), or it
    /// could leave out the principles that forbid its action.
    func judgedInput(
        agent: JSONValue, constitution: CompiledConstitution, narrowing: Bool, path: String = ""
    ) throws(APIError) -> (JudgedInput, Set<String>?) {
        var filter: Set<String>?
        if let principles {
            let unknown = principles.filter { constitution.principle($0) == nil }
            guard unknown.isEmpty else {
                throw APIError.badRequest(
                    "\(path.isEmpty ? "" : "\(path): ")unknown principle\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in constitution \(constitution.hash)",
                    code: "unknown_principle")
            }
            if narrowing { filter = Set(principles) }
        }
        let input = JudgedInput(
            action: action ?? .null, content: content.map(JSONValue.string) ?? .null,
            context: context.map(JSONValue.object) ?? .null, agent: agent)
        return (input, filter)
    }
}

/// The body of the batch endpoint: `{"inputs": [...]}`.
struct BatchValidateRequest: Sendable {
    var inputs: [ValidateRequest]

    init(_ json: JSONValue, maxInputs: Int) throws(APIError) {
        let body = try JSONFields(json, path: "", allowed: ["inputs"])
        guard let items = try body.array("inputs") else {
            throw APIError.badRequest("field 'inputs': required field is missing", code: "invalid_json")
        }
        guard !items.isEmpty else { throw APIError.badRequest("'inputs' must hold at least one input", code: "empty_batch") }
        guard items.count <= maxInputs else {
            throw APIError.badRequest("a batch holds at most \(maxInputs) inputs, not \(items.count)", code: "batch_too_large")
        }
        var inputs: [ValidateRequest] = []
        for (i, item) in items.enumerated() { inputs.append(try ValidateRequest(item, path: "inputs[\(i)]")) }
        self.inputs = inputs
    }
}
