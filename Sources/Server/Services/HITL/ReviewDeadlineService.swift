import Logging
import ServiceLifecycle
import Storage

/// Enforces review deadlines once a second: overdue requests escalate, then expire denied. The
/// deadlines are in the store, so a restarted server enforces those that passed while it was down.
struct ReviewDeadlineService: Service {
    let desk: ReviewDesk
    let logger: Logger
    var interval: Duration = .seconds(1)

    func run() async throws {
        await repeatUntilShutdown(every: interval) {
            do {
                try await desk.enforceDeadlines()
            } catch {
                logger.error("could not enforce review deadlines; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
    }
}
