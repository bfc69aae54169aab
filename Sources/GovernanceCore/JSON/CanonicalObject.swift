/// Writes a JSON object in canonical form from fields given in canonical order (keys sorted by
/// UTF-16 code units, as `CanonicalJSON` sorts them), without building a dictionary and sorting
/// it: for the documents written on every request (a stored review, its audit entry, the answer).
/// The output is byte for byte what `CanonicalJSON.encode` gives for the same object. A key out of
/// order trips an assertion in debug builds, so the tests catch a field added in the wrong place.
public struct CanonicalObject {
    private var bytes: [UInt8]
    private var isEmpty = true
    #if DEBUG
    private var lastKey: String?
    #endif

    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// The object, closed.
    public consuming func text() -> String {
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    public mutating func string(_ key: String, _ value: String) {
        self.key(key)
        CanonicalJSON.writeString(value, into: &bytes)
    }

    /// The string, or `null` when there is none.
    public mutating func nullableString(_ key: String, _ value: String?) {
        guard let value else { return self.value(key, .null) }
        string(key, value)
    }

    public mutating func number(_ key: String, _ value: Double) {
        self.key(key)
        var text = ""
        CanonicalJSON.writeNumber(value, into: &text)
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func bool(_ key: String, _ value: Bool) {
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func value(_ key: String, _ value: JSONValue) {
        self.key(key)
        CanonicalJSON.write(value, into: &bytes)
    }

    public mutating func strings(_ key: String, _ values: some Sequence<String>) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeString(value, into: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A nested object, written in place by `build` (its fields in canonical order too).
    public mutating func object(_ key: String, _ build: (inout CanonicalObject) -> Void) {
        self.key(key)
        writeNested(build)
    }

    /// A list of objects, each written in place by `build`.
    public mutating func objects<Items: Sequence>(_ key: String, _ items: Items, _ build: (Items.Element, inout CanonicalObject) -> Void) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            writeNested { build(item, &$0) }
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The nested writer takes over the bytes and hands them back (swapped, never copied).
    private mutating func writeNested(_ build: (inout CanonicalObject) -> Void) {
        var nested = CanonicalObject(taking: ())
        swap(&nested.bytes, &bytes)
        nested.bytes.append(UInt8(ascii: "{"))
        build(&nested)
        nested.bytes.append(UInt8(ascii: "}"))
        swap(&nested.bytes, &bytes)
    }

    private init(taking: Void) {
        bytes = []
    }

    private mutating func key(_ key: String) {
        #if DEBUG
        if let lastKey {
            assert(CanonicalJSON.precedesInUTF16(lastKey, key), "canonical object: '\(key)' written after '\(lastKey)'")
        }
        lastKey = key
        #endif
        if !isEmpty { bytes.append(UInt8(ascii: ",")) }
        isEmpty = false
        CanonicalJSON.writeString(key, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }
}
