import ArgumentParser
import AuditLog
import Foundation
import GovernanceCore
import Identity
import Logging
import Server
import Storage

/// The audit log offline: verify it (from the store or an export), export it, prove an entry, and
/// rotate its signing key.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, export and prove the tamper-evident audit log.",
        subcommands: [Verify.self, Export.self, Prove.self, RotateKey.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every entry, leaf hash, the tree, every signed head and the chain of heads, with the public keys only.",
            discussion: "Exit status 0 when the log verifies, 1 when it does not (the first problem is named), 3 on a usage error.")

        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"
        @Option(help: "Verify this export (from `acgs audit export`) instead of the store; no database is needed.") var export: String?
        @Option(help: "Public keys as JSON (the body of GET /api/v1/integrity/keys); default: the export's, or the data directory's.")
        var keys: String?
        @Flag(help: "Print the report as JSON.") var json = false

        func run() async throws {
            let report: AuditVerificationReport
            if let export {
                let file = try ExportFile.read(export)
                let keys = try self.keys.map(AuditFiles.readKeys) ?? file.keys
                var verifier = AuditLogVerifier(keys: keys, heads: file.heads)
                for entry in file.entries { verifier.check(position: entry.position, text: entry.text, recordedLeafHash: entry.leafHash) }
                report = verifier.finish()
            } else {
                let keys = try self.keys.map(AuditFiles.readKeys) ?? AuditFiles.dataDirectoryKeys(dataDir)
                report = try await AuditFiles.withStore(dataDir) { try await $0.verify(keys: keys) }
            }
            if json {
                print(CanonicalJSON.encode(report.json))
            } else {
                print("entries checked  \(report.entriesChecked)")
                print("heads checked    \(report.headsChecked)")
                print("tree size        \(report.treeSize)  root \(MerkleHash.hex(report.rootHash))")
                print("signed up to     \(report.signedTreeSize.map(String.init) ?? "no valid signed head")")
                if report.valid {
                    print("the log verifies")
                } else {
                    print("THE LOG DOES NOT VERIFY: \(report.problems.count + report.problemsOmitted) problem(s)")
                    for problem in report.problems { print("  \(problem)") }
                    if report.problemsOmitted > 0 { print("  … and \(report.problemsOmitted) more") }
                }
            }
            if !report.valid { throw ExitCode(1) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the log as JSON lines: the public keys, every entry with its recorded leaf hash, every signed head.")

        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func run() async throws {
            let keys = try AuditFiles.dataDirectoryKeys(dataDir)
            let sink: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil) else { throw InputError("cannot create '\(output)'") }
                guard let handle = FileHandle(forWritingAtPath: output) else { throw InputError("cannot write '\(output)'") }
                sink = handle
            } else {
                sink = FileHandle.standardOutput
            }
            defer { if output != nil { try? sink.close() } }
            let (entries, heads) = try await AuditFiles.withStore(dataDir) { store in
                var count = 0
                sink.write(Data((CanonicalJSON.encode(["type": "keys", "keys": .array(keys.map(\.json))]) + "\n").utf8))
                var after = -1
                while true {
                    let page = try await store.scan(after: after, limit: 5_000)
                    guard let last = page.last else { break }
                    var chunk = ""
                    for entry in page { chunk += ExportFile.line(entry) + "\n" }
                    sink.write(Data(chunk.utf8))
                    count += page.count
                    after = last.index
                }
                let heads = try await store.heads()
                for head in heads {
                    guard case .object(var fields) = head.json else { continue }
                    fields["type"] = "head"
                    sink.write(Data((CanonicalJSON.encode(.object(fields)) + "\n").utf8))
                }
                return (count, heads.count)
            }
            if output != nil { print("exported \(entries) entries, \(heads) signed heads and \(keys.count) public keys to \(output ?? "")") }
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an inclusion proof of entry INDEX in the newest signed tree head, checkable by any RFC 6962 verifier.")

        @Argument(help: "The entry's index.") var index: Int
        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"

        func run() async throws {
            guard index >= 0 else { throw InputError("the index must be non-negative") }
            let keys = try AuditFiles.dataDirectoryKeys(dataDir)
            let output = try await AuditFiles.withStore(dataDir) { store -> JSONValue in
                guard let head = try await store.latestHead() else {
                    throw InputError("no tree head has been signed yet; start the server (it signs within a second) or sign one with POST /api/v1/integrity/tree-head")
                }
                guard index < head.treeSize else {
                    throw InputError("entry \(index) is not covered by the newest signed head (size \(head.treeSize)); sign a new head first")
                }
                guard let key = keys.first(where: { $0.keyId == head.keyId }), head.isSigned(by: key.publicKey) else {
                    throw InputError("the newest signed head does not verify under the audit keys; run `acgs audit verify`")
                }
                guard let entry = try await store.entry(at: index) else { throw InputError("entry \(index) is missing from the store") }
                let proof = try await store.proofs.inclusion(index: index, treeSize: head.treeSize)
                let leafHash = MerkleHash.leaf(utf8: entry.text)
                guard leafHash == proof.leafHash,
                    MerkleTree.verifyInclusion(leafHash: leafHash, index: index, treeSize: head.treeSize, proof: proof.path, root: head.rootHash)
                else { throw InputError("the stored entry \(index) does not prove against the signed head; run `acgs audit verify`") }
                return [
                    "index": .number(Double(index)), "tree_size": .number(Double(head.treeSize)), "leaf_hash": .string(MerkleHash.hex(leafHash)),
                    "audit_path": .array(proof.path.map { .string(MerkleHash.hex($0)) }), "root_hash": .string(MerkleHash.hex(head.rootHash)),
                    "entry": .string(entry.text), "tree_head": head.json,
                    "public_key": key.json,
                    "how_to_check": .string(
                        "leaf_hash = SHA-256(0x00 || UTF-8 of entry); fold audit_path as RFC 9162 section 2.1.3.2 to root_hash; check the Ed25519 signature of tree_head over the canonical JSON of its fields without 'signature', plus \"type\":\"\(SignedTreeHead.signatureType)\""),
                ]
            }
            print(CanonicalJSON.encode(output))
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key", abstract: "Make a new audit signing key active; old public keys stay published.")

        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"

        func run() async throws {
            let keys = try await AuditSigningKeys.open(dataDirectory: dataDir)
            let kid = try await keys.store.rotate()
            print("active audit signing key \(kid) (a running server signs its next head with it)")
        }
    }
}

/// Reading keys and stores for the audit commands.
enum AuditFiles {
    static func dataDirectoryKeys(_ dataDir: String) throws -> [AuditPublicKey] {
        let directory = dataDir + "/audit-keys"
        guard FileManager.default.fileExists(atPath: directory) else { throw InputError("no audit keys in '\(directory)'; give --keys FILE") }
        return try SigningKeyStore.publicKeys(inDirectory: directory).map { AuditPublicKey(keyId: $0.kid, publicKey: $0.publicKey, retiredAt: $0.retiredAt) }
    }

    static func readKeys(_ path: String) throws -> [AuditPublicKey] {
        guard let data = FileManager.default.contents(atPath: path), let value = try? JSONValue.parse(String(decoding: data, as: UTF8.self)),
            let items = value["keys"].arrayValue
        else { throw InputError("'\(path)' is not a JSON object with a 'keys' list") }
        return try items.map { item in
            guard let key = AuditPublicKey(json: item) else { throw InputError("'\(path)': a key lacks key_id or a valid Ed25519 public_key") }
            return key
        }
    }

    /// Runs `body` on the audit store of `dataDir` (which must exist) or of PostgreSQL, closing it
    /// however `body` ends.
    static func withStore<T>(_ dataDir: String, _ body: (any AuditRepository) async throws -> T) async throws -> T {
        try await OfflineStores.with(dataDir: dataDir, mustExist: true) { try await body($0.audit) }
    }
}

/// The export format: one JSON object per line. `{"type":"keys","keys":[…]}`, then
/// `{"entry":<the entry's canonical JSON, verbatim>,"index":N,"leaf_hash":"<recorded>","type":"entry"}`
/// per entry, then the signed heads with `"type":"head"`.
struct ExportFile {
    var keys: [AuditPublicKey] = []
    var entries: [(position: Int, text: String, leafHash: [UInt8]?)] = []
    var heads: [SignedTreeHead] = []

    static func line(_ entry: StoredAuditEntry) -> String {
        // The entry's text is spliced in as it was hashed, keys in canonical order around it.
        #"{"entry":"# + entry.text + #","index":\#(entry.index),"leaf_hash":"# + (entry.leafHash.map { "\"\(MerkleHash.hex($0))\"" } ?? "null")
            + #","type":"entry"}"#
    }

    static func read(_ path: String) throws -> ExportFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("cannot read '\(path)'") }
        var file = ExportFile()
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let value = try? JSONValue.parse(String(line)) else { throw InputError("\(path):\(number + 1): not JSON") }
            switch value["type"].stringValue {
            case "keys":
                for item in value["keys"].arrayValue ?? [] {
                    guard let key = AuditPublicKey(json: item) else { throw InputError("\(path):\(number + 1): a key is malformed") }
                    file.keys.append(key)
                }
            case "entry":
                guard let index = value["index"].numberValue, index >= 0, index == index.rounded() else {
                    throw InputError("\(path):\(number + 1): an entry line lacks its index")
                }
                // Canonical JSON of the entry: the very bytes that were hashed, when nothing was changed.
                file.entries.append((Int(index), CanonicalJSON.encode(value["entry"]), value["leaf_hash"].stringValue.flatMap(MerkleHash.bytes(hex:))))
            case "head":
                guard let head = SignedTreeHead(json: value) else { throw InputError("\(path):\(number + 1): a head is malformed") }
                file.heads.append(head)
            default:
                throw InputError("\(path):\(number + 1): unknown line type")
            }
        }
        return file
    }
}
