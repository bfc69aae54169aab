import NIOCore

/// Commands written together, each with the promise its reply completes. A pipeline is one request,
/// so its commands leave in one flush.
struct RedisRequest: Sendable {
    let commands: [RESPValue]
    let replies: [EventLoopPromise<RESPValue>]
}

/// Matches replies to commands. Redis answers the commands of one connection in the order it got
/// them, so the promises wait in a queue and each reply completes the oldest.
///
/// One timer watches the oldest command only: the commands behind it were sent later, so they
/// cannot time out first. A command that times out fails with every command behind it, and the
/// connection is closed: its reply could still arrive and be taken for the next command's.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = RESPValue

    private struct PendingReply {
        let promise: EventLoopPromise<RESPValue>
        let deadline: NIODeadline
    }

    private let commandTimeout: Duration
    private var pending = CircularBuffer<PendingReply>()
    private var timer: Scheduled<Void>?
    /// Set once the connection fails or closes; later requests fail at once with this.
    private var failure: RedisError?

    init(commandTimeout: Duration) {
        self.commandTimeout = commandTimeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let failure {
            request.replies.forEach { $0.fail(failure) }
            promise?.fail(failure)
            return
        }
        let deadline = NIODeadline.now() + TimeAmount(commandTimeout)
        for (index, (command, reply)) in zip(request.commands, request.replies).enumerated() {
            pending.append(PendingReply(promise: reply, deadline: deadline))
            let isLast = index == request.commands.count - 1
            context.write(Self.wrapOutboundOut(command), promise: isLast ? promise : nil)
        }
        if timer == nil { startTimer(context: context, deadline: deadline) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = Self.unwrapInboundIn(data)
        guard let oldest = pending.popFirst() else {
            fail(context: context, with: .protocolError("a reply arrived with no command waiting for it: \(reply)"))
            return
        }
        oldest.promise.succeed(reply)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(with: .connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, with: error as? RedisError ?? .protocolError("\(error)"))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(with: .connectionClosed)
    }

    private func startTimer(context: ChannelHandlerContext, deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard let oldest = pending.first else { return }
            if oldest.deadline <= .now() {
                fail(context: context, with: .timeout(commandTimeout))
            } else {
                startTimer(context: context, deadline: oldest.deadline)
            }
        }
    }

    /// Closes the connection before failing the commands, so that a caller who resumes at once
    /// already finds the connection inactive and does not send on it again.
    private func fail(context: ChannelHandlerContext, with error: RedisError) {
        let waiting = takePending(failingLaterRequestsWith: error)
        context.close(promise: nil)
        for reply in waiting { reply.promise.fail(error) }
    }

    private func failAll(with error: RedisError) {
        for reply in takePending(failingLaterRequestsWith: error) { reply.promise.fail(error) }
    }

    private func takePending(failingLaterRequestsWith error: RedisError) -> CircularBuffer<PendingReply> {
        if failure == nil { failure = error }
        timer?.cancel()
        timer = nil
        defer { pending.removeAll() }
        return pending
    }
}
