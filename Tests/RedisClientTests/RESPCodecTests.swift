import NIOCore
import NIOEmbedded
import Testing

@testable import RedisClient

@Suite("RESP2 codec")
struct RESPCodecTests {
    /// A decoder in a channel, as a connection has it.
    private func decoderChannel() -> EmbeddedChannel {
        EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
    }

    private func readAll(_ channel: EmbeddedChannel) throws -> [RESPValue] {
        var values: [RESPValue] = []
        while let value = try channel.readInbound(as: RESPValue.self) { values.append(value) }
        return values
    }

    @Test("each kind of reply")
    func kinds() throws {
        let channel = decoderChannel()
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n-ERR no such key\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"))
        #expect(
            try readAll(channel) == [
                .simpleString("OK"), .error("ERR no such key"), .integer(-42), .bulkString("hello"), .bulkString(""),
                .bulkString(nil), .array(nil), .array([]),
            ])
    }

    @Test("a reply split at every byte comes out whole, once")
    func partialFrames() throws {
        let channel = decoderChannel()
        let bytes = Array("*3\r\n$3\r\nfoo\r\n:7\r\n*2\r\n$-1\r\n+bar\r\n".utf8)
        for (index, byte) in bytes.enumerated() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            let values = try readAll(channel)
            if index < bytes.count - 1 {
                #expect(values.isEmpty, "a value came out after \(index + 1) of \(bytes.count) bytes")
            } else {
                #expect(values == [.array([.bulkString("foo"), .integer(7), .array([.bulkString(nil), .simpleString("bar")])])])
            }
        }
    }

    @Test("many replies in one read, the last one partial")
    func manyInOneRead() throws {
        let channel = decoderChannel()
        var buffer = ByteBuffer()
        for n in 1...500 { buffer.writeString(":\(n)\r\n") }
        buffer.writeString("$9\r\nhalf")
        try channel.writeInbound(buffer)
        #expect(try readAll(channel) == (1...500).map { .integer($0) })
        try channel.writeInbound(ByteBuffer(string: "-done\r\n"))
        #expect(try readAll(channel) == [.bulkString("half-done")])
    }

    @Test("nested arrays with nulls and errors inside")
    func nested() throws {
        let channel = decoderChannel()
        try channel.writeInbound(ByteBuffer(string: "*3\r\n*2\r\n*1\r\n:1\r\n*-1\r\n-WRONGTYPE bad\r\n$-1\r\n"))
        #expect(try readAll(channel) == [.array([.array([.array([.integer(1)]), .array(nil)]), .error("WRONGTYPE bad"), .bulkString(nil)])])
    }

    @Test("bulk strings are binary-safe: CRLF and any byte inside")
    func binarySafe() throws {
        let channel = decoderChannel()
        let payload: [UInt8] = [13, 10] + Array(0...255) + [13, 10]
        var buffer = ByteBuffer(string: "$\(payload.count)\r\n")
        buffer.writeBytes(payload)
        buffer.writeString("\r\n")
        try channel.writeInbound(buffer)
        #expect(try readAll(channel) == [.bulkString(ByteBuffer(bytes: payload))])
    }

    @Test("a 4 MiB bulk string arriving in 64 KiB reads")
    func bigBulkString() throws {
        let channel = decoderChannel()
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: 4 * 1024 * 1024)
        var wire = ByteBuffer(string: "$\(payload.readableBytes)\r\n")
        wire.writeImmutableBuffer(payload)
        wire.writeString("\r\n:1\r\n")
        var values: [RESPValue] = []
        while let chunk = wire.readSlice(length: min(65536, wire.readableBytes)) {
            try channel.writeInbound(chunk)
            values += try readAll(channel)
            if wire.readableBytes == 0 { break }
        }
        #expect(values == [.bulkString(payload), .integer(1)])
    }

    @Test("malformed input is a protocol error", arguments: ["?what\r\n", ":12x\r\n", "$3\r\nabcd\r\n", "*-2\r\n", "+OK\rX"])
    func malformed(_ input: String) throws {
        let channel = decoderChannel()
        #expect(throws: RedisError.self) { try channel.writeInbound(ByteBuffer(string: input)) }
    }

    @Test("the encoder writes commands as arrays of bulk strings")
    func encodesCommands() throws {
        var buffer = ByteBuffer()
        RESPEncoder().encode(data: .command(["SET", "k", "v 1"]), out: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv 1\r\n")
    }

    @Test("what the encoder writes, the decoder reads back")
    func roundTrip() throws {
        let value = RESPValue.array([
            .simpleString("OK"), .error("ERR x"), .integer(Int.min), .bulkString(nil), .array(nil),
            .array([.bulkString("a\r\nb"), .array([])]),
        ])
        var buffer = ByteBuffer()
        RESPEncoder().encode(data: value, out: &buffer)
        #expect(try RESPDecoder.decode(&buffer) == value)
        #expect(buffer.readableBytes == 0)
    }
}
