import Foundation
import Identity
import Logging
import Storage
import ServiceLifecycle

/// Housekeeping for authentication while the server runs: picks up signing keys rotated by
/// `acgs keys rotate` in another process, and forgets revocations and refresh tokens that have expired.
struct AuthMaintenance: Service {
    let auth: AuthService
    let logger: Logger
    var interval: Duration = .seconds(10)

    func run() async throws {
        await repeatUntilShutdown(every: interval) {
            do {
                try await auth.tokens.reloadKeys()
                _ = try await auth.repository.pruneRevokedAccessTokens(before: Date())
                _ = try await auth.repository.pruneRefreshTokens(before: Date())
            } catch {
                logger.warning("auth maintenance failed; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
    }
}
