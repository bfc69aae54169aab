import NIOCore

/// Finds a subscription's connection that died without a TCP reset (a paused server, a lost
/// route): after a silent interval it sends PING; if the next interval is silent too, it closes
/// the connection, and the subscriber reconnects. Placed after an `IdleStateHandler` that reports
/// read idleness.
final class SubscriptionKeepAliveHandler: ChannelInboundHandler {
    typealias InboundIn = RESPValue
    typealias InboundOut = RESPValue
    typealias OutboundOut = RESPValue

    private var pingUnanswered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pingUnanswered = false
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .read? = event as? IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if pingUnanswered {
            context.close(promise: nil)
        } else {
            pingUnanswered = true
            context.writeAndFlush(Self.wrapOutboundOut(.command(["PING"])), promise: nil)
        }
    }
}
