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

/// One request, ready to send: the body already encoded.
struct PerfRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var headers: HTTPHeaders
    var body: ByteBuffer?
}

struct PerfResponse: Sendable {
    var status: Int
    /// The `X-Constitutional-Hash` response header, when there is one.
    var hashHeader: String?
    var body: ByteBuffer
    var keepAlive: Bool

    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))) ?? .null }
}

/// A keep-alive HTTP/1.1 connection with one request in flight. Everything but `connect` and
/// `request` runs on the channel's event loop.
final class PerfConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var context: ChannelHandlerContext?
    private var pending: ((Result<PerfResponse, any Error>) -> Void)?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    let hostHeader: String
    let eventLoop: any EventLoop

    private init(hostHeader: String, eventLoop: any EventLoop) {
        self.hostHeader = hostHeader
        self.eventLoop = eventLoop
    }

    static func connect(_ endpoint: PerfEndpoint, on loop: any EventLoop) -> EventLoopFuture<PerfConnection> {
        let handler = PerfConnection(hostHeader: "\(endpoint.host):\(endpoint.port)", eventLoop: loop)
        return ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
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
        var headers = request.headers
        headers.replaceOrAdd(name: "Host", value: hostHeader)
        headers.replaceOrAdd(name: "Content-Length", value: String(request.body?.readableBytes ?? 0))
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            guard let head else { return }
            let response = PerfResponse(
                status: Int(head.status.code), hashHeader: head.headers.first(name: "X-Constitutional-Hash"),
                body: body ?? ByteBuffer(), keepAlive: head.isKeepAlive)
            self.head = nil
            body = nil
            let done = pending
            pending = nil
            done?(.success(response))
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
        return try await connection.request(PerfWorkload.request(method, endpoint.basePath + path, json: json, bearer: bearer, hash: hash))
    }
}
