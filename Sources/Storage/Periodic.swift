import ServiceLifecycle

/// Runs `tick` every `interval` until the task is cancelled or the service group shuts down
/// gracefully, which ends the wait at once instead of after a whole interval.
public func repeatUntilShutdown(every interval: Duration, _ tick: () async -> Void) async {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } catch {
            return
        }
        await tick()
    }
}
