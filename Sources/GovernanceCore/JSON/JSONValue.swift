/// A JSON document: what agents send, what rules read, and what gets hashed.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue {
        if case .object(let fields) = self, let value = fields[key] { return value }
        return .null
    }

    public subscript(index: Int) -> JSONValue {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return .null
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Double.self) {
            self = .number(n)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? container.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n): try container.encode(n)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension [String: JSONValue] {
    /// Visits the fields in the order of their keys. The order is sorted on the stack, as positions
    /// in the dictionary: objects are small and written or scanned on every governed request, and
    /// sorting copies of their fields cost an array and a retain of every value.
    func forEachSorted(by precedes: (String, String) -> Bool, _ body: (String, JSONValue) -> Void) {
        assert(_isPOD(Index.self), "positions are written to uninitialised memory")
        withUnsafeTemporaryAllocation(of: Index.self, capacity: count) { order in
            for (slot, index) in zip(order.indices, indices) { order[slot] = index }
            if order.count <= 16 {
                // Insertion sort: most objects have a handful of keys.
                for i in order.indices.dropFirst() {
                    let index = order[i]
                    var position = i
                    while position > 0, precedes(keys[index], keys[order[position - 1]]) {
                        order[position] = order[position - 1]
                        position -= 1
                    }
                    order[position] = index
                }
            } else {
                // A large object (a request may carry thousands of keys) is sorted in O(n log n),
                // through a mutable copy of the buffer pointer: the same memory.
                var buffer = order
                buffer.sort { precedes(keys[$0], keys[$1]) }
            }
            for index in order { body(keys[index], values[index]) }
        }
    }
}
