import GovernanceCore

/// The body of `POST /api/v1/constitutional/validate`: the ACGS-2 form `{content, context,
/// principles}` or the structured form `{action, content, context}`.
struct ValidateRequest: Decodable, Sendable {
    struct Action: Decodable, Sendable {
        var type: String
        var tool: String?
        var arguments: [String: JSONValue]?
        var target: String?
        var description: String?

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(allowed: ["type", "tool", "arguments", "target", "description"])
            let c = try decoder.container(keyedBy: AnyKey.self)
            type = try c.decode(String.self, forKey: AnyKey(stringValue: "type"))
            tool = try c.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "tool"))
            arguments = try c.decodeIfPresent([String: JSONValue].self, forKey: AnyKey(stringValue: "arguments"))
            target = try c.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "target"))
            description = try c.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "description"))
        }

        var value: JSONValue {
            var fields: [String: JSONValue] = ["type": .string(type)]
            if let tool { fields["tool"] = .string(tool) }
            if let arguments { fields["arguments"] = .object(arguments) }
            if let target { fields["target"] = .string(target) }
            if let description { fields["description"] = .string(description) }
            return .object(fields)
        }
    }

    var action: Action?
    var content: String?
    var context: [String: JSONValue]?
    var principles: [String]?

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: ["action", "content", "context", "principles"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        action = try c.decodeIfPresent(Action.self, forKey: AnyKey(stringValue: "action"))
        content = try c.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "content"))
        context = try c.decodeIfPresent([String: JSONValue].self, forKey: AnyKey(stringValue: "context"))
        principles = try c.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "principles"))
    }

    /// Checks what types alone cannot, and builds the judged input. `agent` comes from the caller's
    /// credentials, never from the body.
    func judgedInput(agent: JSONValue, constitution: CompiledConstitution, field: String = "") throws -> (JudgedInput, Set<String>?) {
        guard action != nil || content != nil else {
            throw APIError.badRequest("\(field)a request needs 'content', 'action', or both", code: "invalid_request")
        }
        if let action, action.type.trimmingWhitespace.isEmpty {
            throw APIError.badRequest("\(field)'action.type' must not be empty", code: "invalid_request")
        }
        var filter: Set<String>?
        if let principles {
            let unknown = principles.filter { constitution.principle($0) == nil }
            guard unknown.isEmpty else {
                throw APIError.badRequest(
                    "\(field)unknown principle\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in constitution \(constitution.hash)",
                    code: "unknown_principle")
            }
            filter = Set(principles)
        }
        let input = JudgedInput(
            action: action?.value ?? .null, content: content.map(JSONValue.string) ?? .null,
            context: context.map(JSONValue.object) ?? .null, agent: agent)
        return (input, filter)
    }
}

struct BatchValidateRequest: Decodable, Sendable {
    var inputs: [ValidateRequest]

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: ["inputs"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        inputs = try c.decode([ValidateRequest].self, forKey: AnyKey(stringValue: "inputs"))
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return Substring(scalars[first...last])
    }
}
