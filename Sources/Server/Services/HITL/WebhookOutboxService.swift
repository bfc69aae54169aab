import Logging
import ServiceLifecycle
import Storage

/// Keeps this replica's webhook claims alive and takes up deliveries no replica holds any more,
/// every third of the lease: a replica that dies mid-delivery leaves its items to the others
/// within about a lease and a third.
struct WebhookOutboxService: Service {
    let dispatcher: WebhookDispatcher
    let logger: Logger

    func run() async throws {
        await repeatUntilShutdown(every: dispatcher.lease / 3) {
            do {
                try await dispatcher.maintain()
            } catch {
                logger.error("could not renew or take up webhook deliveries; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
    }
}
