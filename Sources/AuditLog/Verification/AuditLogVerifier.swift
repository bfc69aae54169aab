import Crypto
import GovernanceCore

/// Something wrong with a log, named and located.
public struct AuditProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// An entry's content no longer matches the leaf hash recorded when it was appended.
        case entryChanged = "entry_changed"
        /// An entry is not a well-formed canonical entry.
        case entryMalformed = "entry_malformed"
        /// Indices jump: entries are missing.
        case entryRemoved = "entry_removed"
        /// A position holds the entry numbered for another position.
        case entryReordered = "entry_reordered"
        /// An entry appears where one was already read (a duplicate or an inserted entry).
        case entryInserted = "entry_inserted"
        /// Entries after the last signed tree head: nothing vouches for them.
        case entryUnsigned = "entry_unsigned"
        /// A head's signature does not verify, or its key is unknown.
        case headSignatureInvalid = "head_signature_invalid"
        /// A head's root is not the root of the entries it covers.
        case headRootMismatch = "head_root_mismatch"
        /// A head covers fewer entries than an earlier one: the log was rolled back or forked.
        case headInconsistent = "head_inconsistent"
        /// A head covers more entries than the log holds: the log was truncated.
        case logTruncated = "log_truncated"
        /// The stored subtree hashes, from which proofs are served, do not give a signed root.
        case storedTreeMismatch = "stored_tree_mismatch"
    }

    public var kind: Kind
    /// The entry index the problem is at, or the tree size of the head concerned.
    public var index: Int?
    public var detail: String

    public init(_ kind: Kind, index: Int?, _ detail: String) {
        self.kind = kind
        self.index = index
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue)\(index.map { " at \($0)" } ?? ""): \(detail)" }

    public var json: JSONValue {
        var fields: [String: JSONValue] = ["kind": .string(kind.rawValue), "detail": .string(detail)]
        if let index { fields["index"] = .number(Double(index)) }
        return .object(fields)
    }
}

/// The outcome of a full check of a log.
public struct AuditVerificationReport: Sendable {
    public var entriesChecked: Int
    public var headsChecked: Int
    /// The size and root recomputed from the entries.
    public var treeSize: Int
    public var rootHash: [UInt8]
    /// The size of the newest valid signed head, if any.
    public var signedTreeSize: Int?
    /// Problems in the order found; the first is where the log first departs from what was signed.
    public var problems: [AuditProblem]
    /// Problems beyond the first `AuditLogVerifier.maxProblems` are counted, not listed.
    public var problemsOmitted: Int

    public var valid: Bool { problems.isEmpty }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "valid": .bool(valid), "entries_checked": .number(Double(entriesChecked)), "heads_checked": .number(Double(headsChecked)),
            "tree_size": .number(Double(treeSize)), "root_hash": .string(MerkleHash.hex(rootHash)),
            "problems": .array(problems.map(\.json)), "problems_omitted": .number(Double(problemsOmitted)),
        ]
        fields["signed_tree_size"] = signedTreeSize.map { .number(Double($0)) } ?? .null
        fields["first_problem"] = problems.first?.json ?? .null
        return .object(fields)
    }
}

/// Checks a log from its entries, the leaf hashes recorded with them, its signed heads and the public
/// keys alone: every entry's canonical form and index, every leaf hash, the tree, every head's
/// signature and root, and the chain of heads. Entries are fed in stored order, one at a time, so a
/// log of any length is checked in memory proportional to the number of heads.
///
/// Consecutive heads are consistent (the later tree extends the earlier) exactly when both roots are
/// those of the one sequence of entries read, which is what is checked: each head's root is compared
/// with the root recomputed at its size, and sizes never decrease.
public struct AuditLogVerifier {
    public static let maxProblems = 100

    private let keys: [String: Curve25519.Signing.PublicKey]
    /// Heads in signing order.
    private let heads: [SignedTreeHead]
    /// Head positions by tree size, for the heads whose signature verified.
    private var pendingBySize: [Int: [Int]] = [:]
    private var tree = IncrementalMerkleTree(store: DiscardingSubtreeStore())
    private var problems: [AuditProblem] = []
    private var omitted = 0
    private var nextPosition = 0
    private var entriesChecked = 0
    private var signedTreeSize: Int?

    public init(keys: [AuditPublicKey], heads: [SignedTreeHead]) {
        self.keys = Dictionary(keys.map { ($0.keyId, $0.publicKey) }, uniquingKeysWith: { a, _ in a })
        self.heads = heads
        var largest = 0
        for (i, head) in heads.enumerated() {
            guard let key = self.keys[head.keyId] else {
                report(.headSignatureInvalid, head.treeSize, "tree head #\(i + 1) (size \(head.treeSize)) is signed by an unknown key '\(head.keyId)'")
                continue
            }
            guard head.isSigned(by: key) else {
                report(.headSignatureInvalid, head.treeSize, "tree head #\(i + 1) (size \(head.treeSize)): the signature does not verify under key '\(head.keyId)'; the head was altered or replaced")
                continue
            }
            if head.treeSize < largest {
                report(.headInconsistent, head.treeSize, "tree head #\(i + 1) covers \(head.treeSize) entries but an earlier head covered \(largest): the log was rolled back or forked")
            }
            largest = max(largest, head.treeSize)
            signedTreeSize = max(signedTreeSize ?? 0, head.treeSize)
            pendingBySize[head.treeSize, default: []].append(i)
        }
        if let empty = pendingBySize.removeValue(forKey: 0) {
            for i in empty where heads[i].rootHash != MerkleHash.empty {
                report(.headRootMismatch, 0, "tree head #\(i + 1) of the empty log has a root other than the empty hash")
            }
        }
    }

    /// Checks the entry stored at `position`, whose text is `text`, with the leaf hash recorded for it.
    public mutating func check(position: Int, text: String, recordedLeafHash: [UInt8]?) {
        entriesChecked += 1
        if position > nextPosition {
            let missing = nextPosition == position - 1 ? "entry \(nextPosition) is" : "entries \(nextPosition)…\(position - 1) are"
            report(.entryRemoved, nextPosition, "\(missing) missing: the log jumps from \(nextPosition - 1) to \(position)")
        } else if position < nextPosition {
            report(.entryInserted, position, "a second entry at position \(position), after \(nextPosition - 1) was read")
        }
        nextPosition = max(nextPosition, position + 1)

        let leafHash = MerkleHash.leaf(utf8: text)
        do {
            let entry = try AuditEntry(text: text)
            if entry.index != position {
                report(
                    .entryReordered, position,
                    "position \(position) holds the entry numbered \(entry.index) (\(entry.event.type.rawValue) at \(entry.timestamp)): entries were moved")
            }
        } catch {
            report(.entryMalformed, position, "entry \(position): \(error)")
        }
        if let recordedLeafHash, recordedLeafHash != leafHash {
            report(
                .entryChanged, position,
                "entry \(position) was changed: its content hashes to \(MerkleHash.hex(leafHash)) but the log recorded \(MerkleHash.hex(recordedLeafHash)) when it was appended")
        } else if recordedLeafHash == nil {
            report(.entryChanged, position, "entry \(position) has no recorded leaf hash")
        }
        // The tree is built from what is there now, so every head after a change stops matching.
        _ = try? tree.append(leafHash: leafHash)
        compareHeads()
    }

    /// Finishes the check: heads beyond the entries read, and entries no head covers.
    public mutating func finish() -> AuditVerificationReport {
        for (size, positions) in pendingBySize.sorted(by: { $0.key < $1.key }) where size > tree.size {
            report(
                .logTruncated, tree.size,
                "tree head #\(positions[0] + 1) was signed over \(size) entries but the log holds \(tree.size): entries \(tree.size)…\(size - 1) were removed")
        }
        pendingBySize = [:]
        let covered = signedTreeSize ?? 0
        if tree.size > covered {
            report(
                .entryUnsigned, covered,
                "entries \(covered)…\(tree.size - 1) are not covered by any signed tree head: they were appended after the last head, or forged")
        }
        return AuditVerificationReport(
            entriesChecked: entriesChecked, headsChecked: heads.count, treeSize: tree.size, rootHash: tree.root,
            signedTreeSize: signedTreeSize, problems: problems, problemsOmitted: omitted)
    }

    private mutating func compareHeads() {
        guard let positions = pendingBySize.removeValue(forKey: tree.size) else { return }
        let root = tree.root
        for i in positions where heads[i].rootHash != root {
            report(
                .headRootMismatch, tree.size,
                "tree head #\(i + 1) signed root \(MerkleHash.hex(heads[i].rootHash)) over \(tree.size) entries, but they hash to \(MerkleHash.hex(root)): an entry before \(tree.size) was changed, removed or reordered")
        }
    }

    private mutating func report(_ kind: AuditProblem.Kind, _ index: Int?, _ detail: String) {
        if problems.count < Self.maxProblems {
            problems.append(AuditProblem(kind, index: index, detail))
        } else {
            omitted += 1
        }
    }
}

/// A store that keeps nothing: the verifier only needs the tree's frontier, which the tree holds.
struct DiscardingSubtreeStore: SubtreeHashStore {
    func hash(of subtree: SubtreeID) -> [UInt8]? { nil }
    mutating func store(_ hash: [UInt8], for subtree: SubtreeID) {}
}
