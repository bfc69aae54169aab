import Foundation
import GovernanceCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// A service's base URL: plain HTTP, a host, a port and an optional path prefix.
struct PerfEndpoint: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var basePath: String

    init(_ text: String) throws {
        guard let url = URL(string: text), url.scheme == "http", let host = url.host, !host.isEmpty else {
            throw PerfUsageError("'\(text)' is not an http:// URL (https is not supported: measure behind the TLS terminator)")
        }
        self.host = host
        self.port = url.port ?? 80
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        self.basePath = path
    }

    var description: String { "http://\(host):\(port)\(basePath)" }
}

struct PerfUsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct PerfFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One request, ready to send: encoded once, as the bytes that go on the wire, so that sending it
/// costs a write and nothing else (the load generator shares the machine with the server, and
/// every microsecond it spends is taken from the server it measures).
struct PerfRequest: Sendable {
    let wire: ByteBuffer

    init(method: HTTPMethod, host: String, path: String, headers: [(name: String, value: String)], body: String?) {
        var head = "\(method.rawValue) \(path) HTTP/1.1\r\nHost: \(host)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body?.utf8.count ?? 0)\r\n\r\n"
        var wire = ByteBuffer()
        wire.reserveCapacity(head.utf8.count + (body?.utf8.count ?? 0))
        wire.writeString(head)
        if let body { wire.writeString(body) }
        self.wire = wire
    }
}

struct PerfResponse: Sendable {
    var status: Int
    /// The `X-Constitutional-Hash` response header, when there is one.
    var hashHeader: String?
    var body: ByteBuffer
    var keepAlive: Bool

    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))) ?? .null }
}

/// Reads HTTP/1.1 responses from the bytes a connection receives: the status, the two headers the
/// load generator looks at (the constitutional hash, and whether the connection stays open), and
/// the body, sized by `Content-Length` or sent in chunks. Only what a response needs is read, in
/// place: the load generator parses thousands a second on the server's cores.
struct PerfResponseParser {
    private var buffer = ByteBuffer()

    mutating func append(_ bytes: inout ByteBuffer) {
        if buffer.readableBytes == 0 { buffer.clear() }
        buffer.writeBuffer(&bytes)
    }

    /// The head of a response: where its body starts, and what the headers said.
    private struct Head {
        var status = 0
        var keepAlive = true
        var hashHeader: String?
        var contentLength: Int?
        var chunked = false
        var bodyStart = 0
    }

    /// The next complete response, or nil until more bytes arrive.
    mutating func next() throws(PerfFailure) -> PerfResponse? {
        let parsed: Result<(Head, ByteBuffer, Int)?, PerfFailure> = buffer.withUnsafeReadableBytes { bytes in
            do throws(PerfFailure) {
                guard let head = try Self.head(bytes) else { return .success(nil) }
                var body = ByteBuffer()
                if head.chunked {
                    guard let (chunks, end) = try Self.chunks(bytes, from: head.bodyStart) else { return .success(nil) }
                    return .success((head, chunks, end))
                } else if let length = head.contentLength {
                    guard bytes.count - head.bodyStart >= length else { return .success(nil) }
                    body.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.bodyStart..<(head.bodyStart + length)]))
                    return .success((head, body, head.bodyStart + length))
                } else if head.status == 204 || head.status == 304 || (100..<200).contains(head.status) {
                    return .success((head, body, head.bodyStart))
                }
                throw PerfFailure("a response of status \(head.status) without a length")
            } catch {
                return .failure(error)
            }
        }
        guard let (head, body, end) = try parsed.get() else { return nil }
        buffer.moveReaderIndex(forwardBy: end)
        return PerfResponse(status: head.status, hashHeader: head.hashHeader, body: body, keepAlive: head.keepAlive)
    }

    private static func head(_ bytes: UnsafeRawBufferPointer) throws(PerfFailure) -> Head? {
        guard let headEnd = find(crlfcrlf, in: bytes, from: 0) else {
            if bytes.count > 64 * 1024 { throw PerfFailure("a response head longer than 64 KiB") }
            return nil
        }
        var head = Head(bodyStart: headEnd + 4)
        // "HTTP/1.1 200 …": the version's minor digit at 7, the status at 9.
        guard headEnd >= 12, bytes.starts(with: "HTTP/1.".utf8), let status = number(bytes, 9..<12, radix: 10) else {
            throw PerfFailure("not an HTTP/1.x response: \(String(decoding: bytes.prefix(min(40, headEnd)), as: UTF8.self))")
        }
        head.status = status
        head.keepAlive = bytes[7] == UInt8(ascii: "1")
        var line = (find(crlf, in: bytes, from: 0) ?? headEnd) + 2
        while line < headEnd {
            let lineEnd = find(crlf, in: bytes, from: line) ?? headEnd
            if let colon = (line..<lineEnd).first(where: { bytes[$0] == UInt8(ascii: ":") }) {
                var valueStart = colon + 1
                var valueEnd = lineEnd
                while valueStart < valueEnd, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
                while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                let name = line..<colon
                let value = valueStart..<valueEnd
                if named(bytes, name, "content-length") {
                    guard let length = number(bytes, value, radix: 10) else { throw PerfFailure("a bad Content-Length") }
                    head.contentLength = length
                } else if named(bytes, name, "transfer-encoding") {
                    head.chunked = named(bytes, value, "chunked")
                } else if named(bytes, name, "connection") {
                    head.keepAlive = !named(bytes, value, "close")
                } else if named(bytes, name, "x-constitutional-hash") {
                    head.hashHeader = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[value]), as: UTF8.self)
                }
            }
            line = lineEnd + 2
        }
        return head
    }

    /// The body of a chunked response starting at `start`, and where the response ends; nil while incomplete.
    private static func chunks(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(PerfFailure) -> (ByteBuffer, Int)? {
        var body = ByteBuffer()
        var position = start
        while true {
            guard let lineEnd = find(crlf, in: bytes, from: position) else { return nil }
            let digits = (position..<lineEnd).prefix { bytes[$0] != UInt8(ascii: ";") && bytes[$0] != 0x20 }
            guard let size = number(bytes, digits, radix: 16) else { throw PerfFailure("a bad chunk size") }
            position = lineEnd + 2
            if size == 0 {
                // Trailers, if any, end with an empty line.
                guard let end = find(crlf, in: bytes, from: position) else { return nil }
                if end == position { return (body, position + 2) }
                guard let trailersEnd = find(crlfcrlf, in: bytes, from: position) else { return nil }
                return (body, trailersEnd + 4)
            }
            guard bytes.count - position >= size + 2 else { return nil }
            body.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + size)]))
            position += size + 2
        }
    }

    private static let crlf = Array("\r\n".utf8)
    private static let crlfcrlf = Array("\r\n\r\n".utf8)

    private static func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard bytes.count - start >= needle.count else { return nil }
        for i in start...(bytes.count - needle.count) where bytes[i] == needle[0] {
            if (1..<needle.count).allSatisfy({ bytes[i + $0] == needle[$0] }) { return i }
        }
        return nil
    }

    /// Whether the bytes in `range` are `lowercase` in any case.
    private static func named(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        return zip(range, expected).allSatisfy { position, letter in
            let byte = bytes[position]
            return (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == letter
        }
    }

    private static func number(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, radix: Int) -> Int? {
        guard !range.isEmpty, range.count <= 15 else { return nil }
        var n = 0
        for position in range {
            let byte = bytes[position] >= 0x41 && bytes[position] <= 0x5A ? bytes[position] | 0x20 : bytes[position]
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = Int(byte - UInt8(ascii: "a")) + 10
            default: return nil
            }
            n = n * radix + digit
        }
        return n
    }
}

/// A keep-alive HTTP/1.1 connection with one request in flight, on a bare channel: the request is
/// written as it was encoded, and the response read by `PerfResponseParser`. Everything but
/// `connect` and `request` runs on the channel's event loop.
final class PerfConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var pending: ((Result<PerfResponse, any Error>) -> Void)?
    private var parser = PerfResponseParser()
    let eventLoop: any EventLoop

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    static func connect(_ endpoint: PerfEndpoint, on loop: any EventLoop) -> EventLoopFuture<PerfConnection> {
        let handler = PerfConnection(eventLoop: loop)
        return ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .map { _ in handler }
    }

    var isActive: Bool { context?.channel.isActive ?? false }

    /// Sends `request`; `completion` is called once, on the event loop. Call on the event loop.
    func send(_ request: PerfRequest, _ completion: @escaping (Result<PerfResponse, any Error>) -> Void) {
        guard let context, context.channel.isActive, pending == nil else {
            completion(.failure(PerfFailure("connection closed")))
            return
        }
        pending = completion
        context.writeAndFlush(wrapOutboundOut(request.wire), promise: nil)
    }

    /// Sends one request from anywhere.
    func request(_ request: PerfRequest) async throws -> PerfResponse {
        let promise = eventLoop.makePromise(of: PerfResponse.self)
        eventLoop.execute { self.send(request) { promise.completeWith($0) } }
        return try await promise.futureResult.get()
    }

    func close() {
        eventLoop.execute { self.context?.close(promise: nil) }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        parser.append(&bytes)
        do {
            while let response = try parser.next() {
                let done = pending
                pending = nil
                done?(.success(response))
            }
        } catch {
            fail(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(PerfFailure("connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        let done = pending
        pending = nil
        done?(.failure(error))
    }
}

/// Single requests for setup and cleanup: a connection each.
struct PerfCaller: Sendable {
    let group: any EventLoopGroup

    func call(
        _ method: HTTPMethod, _ endpoint: PerfEndpoint, _ path: String, json: JSONValue? = nil, bearer: String? = nil, hash: String? = nil
    ) async throws -> PerfResponse {
        let connection: PerfConnection
        do {
            connection = try await PerfConnection.connect(endpoint, on: group.next()).get()
        } catch {
            throw PerfFailure("cannot reach \(endpoint): \(error)")
        }
        defer { connection.close() }
        return try await connection.request(PerfWorkload.request(method, endpoint, path, json: json, bearer: bearer, hash: hash))
    }
}
