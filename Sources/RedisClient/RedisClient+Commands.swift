/// The commands the application uses, with their replies as Swift values.
extension RedisClient {
    public func ping() async throws(RedisError) {
        let reply = try await send(["PING"])
        guard reply.string == "PONG" else { throw .unexpectedReply(to: "PING", reply) }
    }

    /// The value of `key`, or `nil` when there is none.
    public func get(_ key: String) async throws(RedisError) -> String? {
        let reply = try await send(["GET", key])
        if reply.isNull { return nil }
        guard let value = reply.string else { throw .unexpectedReply(to: "GET", reply) }
        return value
    }

    /// Sets `key` to `value`, to expire after `expirySeconds` when given.
    public func set(_ key: String, _ value: String, expirySeconds: Int? = nil) async throws(RedisError) {
        var command = ["SET", key, value]
        if let expirySeconds { command += ["EX", String(expirySeconds)] }
        let reply = try await send(command)
        guard reply.string == "OK" else { throw .unexpectedReply(to: "SET", reply) }
    }

    /// Deletes the keys; returns how many existed.
    @discardableResult
    public func del(_ keys: String...) async throws(RedisError) -> Int {
        try await integer(["DEL"] + keys)
    }

    /// Adds one to the number at `key` (0 when missing); returns the new value.
    @discardableResult
    public func incr(_ key: String) async throws(RedisError) -> Int {
        try await integer(["INCR", key])
    }

    /// Publishes `message` on `channel`; returns how many subscribers received it.
    @discardableResult
    public func publish(channel: String, message: String) async throws(RedisError) -> Int {
        try await integer(["PUBLISH", channel, message])
    }

    private func integer(_ command: [String]) async throws(RedisError) -> Int {
        let reply = try await send(command)
        guard let value = reply.integer else { throw .unexpectedReply(to: command[0], reply) }
        return value
    }
}

extension RedisError {
    static func unexpectedReply(to command: String, _ reply: RESPValue) -> RedisError {
        .protocolError("unexpected reply to \(command): \(reply)")
    }
}
