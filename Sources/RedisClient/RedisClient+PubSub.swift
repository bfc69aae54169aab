extension RedisClient {
    /// Subscribes to `channels` on a connection of its own, which reconnects with backoff and
    /// subscribes again whenever it drops. The stream ends when its consumer stops iterating (or
    /// its task is cancelled) and when the client shuts down.
    ///
    /// Publish only after `.subscribed` to be sure the message arrives; after `.disconnected`,
    /// wait for `.resubscribed` and reconcile.
    public func subscribe(channels: [String]) -> AsyncStream<RedisMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: RedisMessage.self)
        var uniqueChannels: [String] = []
        for channel in channels where !uniqueChannels.contains(channel) { uniqueChannels.append(channel) }
        guard !uniqueChannels.isEmpty else {
            continuation.finish()
            return stream
        }
        let subscriber = RedisSubscriber(
            channels: uniqueChannels, configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        let task = subscriptions.withLockedValue { subscriptions -> Task<Void, Never>? in
            guard !subscriptions.isClosed else { return nil }
            let id = subscriptions.nextID()
            // Created under the lock so it is registered before it can end and deregister itself.
            let task = Task {
                await subscriber.run { continuation.yield($0) }
                continuation.finish()
                self.subscriptions.withLockedValue { $0.remove(id) }
            }
            subscriptions.add(task, id: id)
            return task
        }
        guard let task else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// The subscriptions' tasks, so that shutdown can end them.
struct Subscriptions {
    private var tasks: [Int: Task<Void, Never>] = [:]
    private var lastID = 0
    private(set) var isClosed = false

    mutating func nextID() -> Int {
        lastID += 1
        return lastID
    }

    mutating func add(_ task: Task<Void, Never>, id: Int) { tasks[id] = task }

    mutating func remove(_ id: Int) { tasks[id] = nil }

    /// Refuses new subscriptions, and hands over the running ones to be ended.
    mutating func close() -> [Task<Void, Never>] {
        isClosed = true
        defer { tasks = [:] }
        return Array(tasks.values)
    }
}
