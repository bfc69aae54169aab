import NIOCore

/// One value of the Redis serialization protocol, version 2: what a server replies, and (as an
/// array of bulk strings) what a client sends.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    /// An error reply, such as `ERR unknown command` or `WRONGTYPE ...`: the message without the `-`.
    case error(String)
    case integer(Int)
    /// `nil` is RESP's null bulk string, the answer to a GET of a missing key.
    case bulkString(ByteBuffer?)
    /// `nil` is RESP's null array, the answer to a BLPOP that timed out.
    case array([RESPValue]?)
}

extension RESPValue {
    /// A bulk string holding the UTF-8 bytes of `string`.
    public static func bulkString(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// The text of a simple or bulk string; `nil` for nulls and other kinds.
    public var string: String? {
        switch self {
        case .simpleString(let string): string
        case .bulkString(let buffer?): String(buffer: buffer)
        default: nil
        }
    }

    public var integer: Int? {
        if case .integer(let value) = self { value } else { nil }
    }

    public var array: [RESPValue]? {
        if case .array(let values?) = self { values } else { nil }
    }

    /// True for the null bulk string and the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let string): "+\(string)"
        case .error(let message): "-\(message)"
        case .integer(let value): ":\(value)"
        case .bulkString(nil), .array(nil): "(nil)"
        case .bulkString(let buffer?): "\"\(String(buffer: buffer))\""
        case .array(let values?): "[\(values.map(\.description).joined(separator: ", "))]"
        }
    }
}
