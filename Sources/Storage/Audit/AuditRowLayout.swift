import AuditLog

/// Where the stored tree lives in the rows of the audit log, in every store: each entry's row holds
/// its leaf hash and the hashes of the subtrees it completes (`completed`: levels 1, 2, …
/// concatenated; entry i completes one subtree per trailing one bit of i). The subtree (level L,
/// index j) is therefore found in the row of its last leaf, ((j + 1) << L) - 1.
enum AuditRowLayout {
    static func row(of id: SubtreeID) -> Int { ((id.index + 1) << id.level) - 1 }

    /// Each entry's leaf hash and completed hashes, as a batch's rows store them.
    static func columns(of batch: AuditAppendBatch) throws -> [(leaf: [UInt8], completed: [UInt8])] {
        var leaves: [Int: [UInt8]] = [:]
        var completed: [Int: [UInt8]] = [:]
        for (id, hash) in batch.nodes {
            if id.level == 0 { leaves[row(of: id)] = hash } else { completed[row(of: id), default: []] += hash }
        }
        return try batch.entries.map { entry in
            guard let leaf = leaves[entry.index] else { throw AuditStoreError.corrupt("no leaf hash for entry \(entry.index)") }
            return (leaf, completed[entry.index] ?? [])
        }
    }

    /// The subtrees that can be stored at all, and the rows to read for them.
    static func rows(for ids: [SubtreeID]) -> (wanted: [SubtreeID], rows: [Int]) {
        let wanted = ids.filter { $0.level >= 0 && $0.index >= 0 && $0.level < 62 }
        return (wanted, Array(Set(wanted.map(row(of:)))))
    }

    /// The hashes of `wanted` out of the rows read; a missing row or hash is missing from the answer.
    static func hashes(_ wanted: [SubtreeID], in rows: [Int: (leaf: [UInt8], completed: [UInt8])]) -> [SubtreeID: [UInt8]] {
        var result: [SubtreeID: [UInt8]] = [:]
        for id in wanted {
            guard let stored = rows[row(of: id)] else { continue }
            if id.level == 0 {
                result[id] = stored.leaf
            } else {
                let offset = (id.level - 1) * MerkleHash.size
                if stored.completed.count >= offset + MerkleHash.size { result[id] = Array(stored.completed[offset..<(offset + MerkleHash.size)]) }
            }
        }
        return result
    }
}
