/// What a subscription yields: messages, and the changes of its connection that a subscriber must
/// know about to avoid acting on a partial picture.
public enum RedisMessage: Sendable, Hashable {
    /// The server confirmed every channel: messages published from now on arrive.
    case subscribed
    /// A message published on one of the channels.
    case message(channel: String, payload: String)
    /// The connection dropped. Messages published until `.resubscribed` are lost.
    case disconnected(RedisError)
    /// Subscribed again after a drop. State the messages keep current should be reloaded, since
    /// some may have been missed.
    case resubscribed
}
