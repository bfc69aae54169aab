/// Every failure the client reports. Server error replies are kept apart from failures of the
/// connection, because only the latter make the client unhealthy.
public enum RedisError: Error, Sendable, Hashable {
    /// A URL or setting that cannot be used, with what is wrong with it.
    case invalidConfiguration(String)
    /// No connection could be made (refused, unreachable, connect timeout), or the client is
    /// waiting out its reconnect backoff after such a failure.
    case connectionFailed(String)
    /// The server refused the credentials (or the client sent a password the server does not expect).
    case authenticationFailed(String)
    /// No reply within the command timeout. The connection is closed, so it is never reused with a
    /// reply still owed on it.
    case timeout(Duration)
    /// An error reply to a command (`ERR ...`, `WRONGTYPE ...`), with the server's message.
    case server(String)
    /// The server sent something that is not RESP2, or not the reply a command expects.
    case protocolError(String)
    /// The connection closed while the command waited for its reply.
    case connectionClosed
    /// The client was shut down.
    case clientClosed
}

extension RedisError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): "invalid Redis configuration: \(reason)"
        case .connectionFailed(let reason): "could not connect to Redis: \(reason)"
        case .authenticationFailed(let message): "Redis refused authentication: \(message)"
        case .timeout(let duration): "Redis did not answer within \(duration)"
        case .server(let message): "Redis error: \(message)"
        case .protocolError(let reason): "Redis protocol error: \(reason)"
        case .connectionClosed: "the connection to Redis closed before the reply arrived"
        case .clientClosed: "the Redis client is shut down"
        }
    }

    /// True when the failure says the server or the way to it is broken, rather than one command.
    var isConnectionFailure: Bool {
        switch self {
        case .server, .invalidConfiguration, .clientClosed: false
        case .connectionFailed, .authenticationFailed, .timeout, .protocolError, .connectionClosed: true
        }
    }
}
