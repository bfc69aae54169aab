import AuditLog
import Foundation
import Identity
import Logging
import ServiceLifecycle
import Storage

/// Signs tree heads over the durable log: at least every second while entries arrive, on request,
/// and once more at shutdown, so that a stopped server leaves every entry covered.
public actor TreeHeadSigner {
    public nonisolated let log: AuditLogWriter
    public nonisolated let keys: any TreeHeadKeyRing
    private let constitutionalHash: @Sendable () -> String
    private let now: @Sendable () -> Date
    private var latest: SignedTreeHead?
    /// The signing in progress: heads are signed one after another, so that they are stored in the
    /// order of their sizes (two interleaved signings could store a smaller head after a larger one,
    /// which a verifier rightly reads as a rollback).
    private var inProgress: Task<SignedTreeHead, any Error>?

    public init(
        log: AuditLogWriter, keys: any TreeHeadKeyRing, constitutionalHash: @escaping @Sendable () -> String,
        now: @escaping @Sendable () -> Date = Date.init
    ) async throws {
        self.log = log
        self.keys = keys
        self.constitutionalHash = constitutionalHash
        self.now = now
        self.latest = try await log.repository.latestHead()
    }

    /// The newest signed head; the first is signed on demand. On a shared store, read from the store,
    /// since another replica may have signed since.
    public func latestHead() async throws -> SignedTreeHead {
        if log.isShared, let stored = try await log.repository.latestHead() { latest = stored }
        if let latest { return latest }
        return try await sign()
    }

    /// Signs and stores a head over the durable log as it is now.
    @discardableResult
    public func sign() async throws -> SignedTreeHead {
        let previous = inProgress
        let task = Task {
            _ = try? await previous?.value
            return try await self.signNow()
        }
        inProgress = task
        return try await task.value
    }

    private func signNow() async throws -> SignedTreeHead {
        let (size, root) = try await log.storedHead()
        let timestamp = AuditClock.format(now())
        let hash = constitutionalHash()
        let (keyId, signature) = try await keys.sign { keyId in
            SignedTreeHead.signedBytes(treeSize: size, rootHash: root, timestamp: timestamp, constitutionalHash: hash, keyId: keyId)
        }
        let head = SignedTreeHead(treeSize: size, rootHash: root, timestamp: timestamp, constitutionalHash: hash, keyId: keyId, signature: signature)
        do {
            try await log.repository.appendHead(head)
        } catch AuditStoreError.staleHead {
            // Another replica stored a head over more entries meanwhile: that one is the newest.
            if let stored = try await log.repository.latestHead() { latest = stored }
            return latest ?? head
        }
        latest = head
        return head
    }

    /// Signs a head if the log grew since the last one.
    public func signIfGrown() async throws {
        let size = log.isShared ? try await log.repository.size() : await log.head().size
        if log.isShared, latest == nil { latest = try await log.repository.latestHead() }
        if size != latest?.treeSize { try await sign() }
    }

    /// Refuses a store whose newest head it cannot stand behind: one signed by no known key, one over
    /// more entries than are stored (a truncated log), or one whose root the stored tree does not give.
    public func checkStoreAgainstLatestHead() async throws {
        guard let head = latest else { return }
        let known = try await keys.publicKeys()
        guard let key = known.first(where: { $0.keyId == head.keyId }), head.isSigned(by: key.publicKey) else {
            throw AuditIntegrityError("the newest signed tree head (size \(head.treeSize)) does not verify under the audit keys")
        }
        let (size, _) = await log.head()
        guard size >= head.treeSize else {
            throw AuditIntegrityError("the log holds \(size) entries but a tree head was signed over \(head.treeSize): the log was truncated")
        }
        let root = try? await log.repository.proofs.root(treeSize: head.treeSize)
        guard root == head.rootHash else {
            throw AuditIntegrityError("the stored tree does not give the root signed at size \(head.treeSize): the log was altered")
        }
    }
}

/// The audit store is not the log that was signed; the server will not add to it.
public struct AuditIntegrityError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The signing loop as a service of the application's lifecycle. With replicas, only the one that
/// holds the signer's lock runs it (`leadership`); the others take over when it goes.
struct TreeHeadSigningService: Service {
    let signer: TreeHeadSigner
    let logger: Logger
    var leadership: PostgresLeadership?
    /// Under a second, so that a head follows new entries within a second.
    var interval: Duration = .milliseconds(500)

    func run() async throws {
        if let leadership {
            await leadership.run(logger: logger) { await signWhileRunning() }
        } else {
            await signWhileRunning()
        }
    }

    private func signWhileRunning() async {
        await repeatUntilShutdown(every: interval) {
            do {
                try await signer.signIfGrown()
            } catch {
                logger.error("could not sign a tree head; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        // The last head covers everything appended before shutdown. Run outside the cancelled task.
        await Task { [signer, logger] in
            do { try await signer.signIfGrown() } catch { logger.error("could not sign the final tree head", metadata: ["error.type": "\(type(of: error))"]) }
        }.value
    }
}

/// The audit key ring: Ed25519 keys in `audit-keys/` (owner-only), kept after rotation (never pruned
/// in practice) because every head ever signed must stay verifiable.
public struct AuditSigningKeys: TreeHeadKeyRing {
    public let store: SigningKeyStore
    /// A century: retired audit keys are published for as long as the log they signed exists.
    public static let retention: Duration = .seconds(100 * 365 * 86_400)

    public init(store: SigningKeyStore) { self.store = store }

    public static func open(dataDirectory: String) async throws -> AuditSigningKeys {
        AuditSigningKeys(
            store: try await SigningKeyStore(
                directory: dataDirectory + "/audit-keys", retiredKeyLifetime: retention, logger: Logger(label: "acgs.audit.keys")))
    }

    public func sign(_ message: @Sendable (String) -> [UInt8]) async throws -> (keyId: String, signature: [UInt8]) {
        // Another process (`acgs audit rotate-key`) may have rotated since the last head.
        try await store.reload()
        let (kid, signature) = try await store.sign(message)
        return (kid, signature)
    }

    public func publicKeys() async throws -> [AuditPublicKey] {
        await store.verifyingKeys().map { AuditPublicKey(keyId: $0.kid, publicKey: $0.publicKey, retiredAt: $0.retiredAt) }
    }
}
