import AuditLog

extension AuditRepository {
    /// Proofs and roots from the stored subtree hashes.
    public var proofs: StoredTreeProofs { StoredTreeProofs(fetch: nodes) }

    /// Checks the whole stored log with the public keys alone (see `AuditLogVerifier`), reading
    /// entries page by page, and checks that the stored subtree hashes proofs are served from give
    /// the root of the newest signed head.
    public func verify(keys: [AuditPublicKey], pageSize: Int = 5_000) async throws -> AuditVerificationReport {
        let heads = try await heads()
        var verifier = AuditLogVerifier(keys: keys, heads: heads)
        var after = -1
        while true {
            let page = try await scan(after: after, limit: pageSize)
            for entry in page { verifier.check(position: entry.index, text: entry.text, recordedLeafHash: entry.leafHash) }
            guard let last = page.last else { break }
            after = last.index
        }
        var report = verifier.finish()
        // Checked last: a log that lost entries has lost their stored hashes too, and that is named above.
        let keyIds = Dictionary(keys.map { ($0.keyId, $0.publicKey) }, uniquingKeysWith: { a, _ in a })
        if let newest = heads.last(where: { head in keyIds[head.keyId].map { head.isSigned(by: $0) } ?? false }), newest.treeSize > 0 {
            let stored = try? await proofs.root(treeSize: newest.treeSize)
            if stored != newest.rootHash {
                report.problems.append(
                    AuditProblem(
                        .storedTreeMismatch, index: newest.treeSize,
                        "the stored subtree hashes \(stored == nil ? "are incomplete" : "give another root") at the newest head's size \(newest.treeSize): proofs served from them would not verify"))
            }
        }
        return report
    }
}
