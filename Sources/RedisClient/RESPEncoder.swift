import NIOCore

/// Writes values in RESP2. A client only ever sends arrays of bulk strings, but encoding every
/// kind keeps the codec symmetric and testable against the decoder.
public struct RESPEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = RESPValue

    public init() {}

    public func encode(data: RESPValue, out: inout ByteBuffer) {
        Self.write(data, to: &out)
    }

    static func write(_ value: RESPValue, to out: inout ByteBuffer) {
        switch value {
        case .simpleString(let string):
            writeLine("+", string, to: &out)
        case .error(let message):
            writeLine("-", message, to: &out)
        case .integer(let number):
            writeLine(":", String(number), to: &out)
        case .bulkString(nil):
            out.writeStaticString("$-1\r\n")
        case .bulkString(let bytes?):
            writeLine("$", String(bytes.readableBytes), to: &out)
            out.writeImmutableBuffer(bytes)
            out.writeStaticString("\r\n")
        case .array(nil):
            out.writeStaticString("*-1\r\n")
        case .array(let values?):
            writeLine("*", String(values.count), to: &out)
            for element in values { write(element, to: &out) }
        }
    }

    private static func writeLine(_ type: StaticString, _ text: String, to out: inout ByteBuffer) {
        out.writeStaticString(type)
        out.writeString(text)
        out.writeStaticString("\r\n")
    }
}

extension RESPValue {
    /// A command as the server expects it: an array of bulk strings.
    static func command(_ arguments: [ByteBuffer]) -> RESPValue {
        .array(arguments.map { .bulkString($0) })
    }

    static func command(_ arguments: [String]) -> RESPValue {
        .array(arguments.map { .bulkString($0) })
    }
}
