import NIOCore

/// Reads RESP2 replies off a byte stream. A reply may arrive split over many reads, and one read may
/// hold many replies (a pipeline's), so each call takes one whole value or nothing.
public struct RESPDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = RESPValue

    /// Redis's own limit on a bulk string (`proto-max-bulk-len`).
    static let maxBulkLength = 512 * 1024 * 1024
    /// A line longer than this without its CRLF is not RESP, and would otherwise be buffered forever.
    static let maxLineLength = 64 * 1024
    /// Replies nest a few levels at most; the limit keeps a hostile peer from exhausting the stack.
    static let maxDepth = 64

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try Self.decode(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial reply at the end of the stream is dropped: the commands waiting for it fail
        // when the connection closes.
        try decode(context: context, buffer: &buffer)
    }

    /// Takes one complete value from the front of `buffer`, or leaves `buffer` untouched and returns
    /// `nil` when the value is not complete yet.
    public static func decode(_ buffer: inout ByteBuffer) throws(RedisError) -> RESPValue? {
        var probe = buffer
        guard let value = try readValue(&probe, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: probe.readerIndex)
        return value
    }

    private static func readValue(_ buffer: inout ByteBuffer, depth: Int) throws(RedisError) -> RESPValue? {
        guard depth <= maxDepth else { throw .protocolError("replies nested deeper than \(maxDepth) levels") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return try readLine(&buffer).map { .simpleString(String(buffer: $0)) }
        case UInt8(ascii: "-"):
            return try readLine(&buffer).map { .error(String(buffer: $0)) }
        case UInt8(ascii: ":"):
            return try readNumber(&buffer).map { .integer($0) }
        case UInt8(ascii: "$"):
            return try readBulkString(&buffer)
        case UInt8(ascii: "*"):
            return try readArray(&buffer, depth: depth)
        default:
            throw .protocolError("unknown reply type byte \(type)")
        }
    }

    private static func readBulkString(_ buffer: inout ByteBuffer) throws(RedisError) -> RESPValue? {
        guard let length = try readNumber(&buffer) else { return nil }
        if length == -1 { return .bulkString(nil) }
        guard (0...maxBulkLength).contains(length) else { throw .protocolError("invalid bulk string length \(length)") }
        guard buffer.readableBytes >= length + 2 else { return nil }
        let bytes = buffer.readSlice(length: length)!
        guard buffer.readBytes(length: 2) == [13, 10] else { throw .protocolError("bulk string not followed by CRLF") }
        return .bulkString(bytes)
    }

    private static func readArray(_ buffer: inout ByteBuffer, depth: Int) throws(RedisError) -> RESPValue? {
        guard let count = try readNumber(&buffer) else { return nil }
        if count == -1 { return .array(nil) }
        guard count >= 0 else { throw .protocolError("invalid array length \(count)") }
        var elements: [RESPValue] = []
        // Not reserved up front: the count comes from the peer, and most of the array may not have arrived.
        for _ in 0..<count {
            guard let element = try readValue(&buffer, depth: depth + 1) else { return nil }
            elements.append(element)
        }
        return .array(elements)
    }

    private static func readNumber(_ buffer: inout ByteBuffer) throws(RedisError) -> Int? {
        guard let line = try readLine(&buffer) else { return nil }
        guard let number = Int(String(buffer: line)) else {
            throw .protocolError("invalid number \"\(String(buffer: line))\"")
        }
        return number
    }

    /// The bytes before the next CRLF, consuming the CRLF.
    private static func readLine(_ buffer: inout ByteBuffer) throws(RedisError) -> ByteBuffer? {
        let bytes = buffer.readableBytesView
        guard let carriageReturn = bytes.firstIndex(of: UInt8(ascii: "\r")) else {
            if bytes.count > maxLineLength { throw .protocolError("line longer than \(maxLineLength) bytes") }
            return nil
        }
        let lineLength = carriageReturn - bytes.startIndex
        guard buffer.readableBytes >= lineLength + 2 else { return nil }
        let line = buffer.readSlice(length: lineLength)!
        guard buffer.readInteger(as: UInt8.self) == UInt8(ascii: "\r"), buffer.readInteger(as: UInt8.self) == UInt8(ascii: "\n") else {
            throw .protocolError("carriage return not followed by line feed")
        }
        return line
    }
}
