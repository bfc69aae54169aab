import Crypto
import GovernanceCore
import Identity
import NIOCore

/// Cache keys for governed request bodies: the constitutional hash and a digest of the acting
/// identity and the body's exact bytes. A body seen before under the same constitution, from the
/// same identity, is answered from what was worked out for it the first time (it was valid then),
/// without being parsed or judged again.
enum RequestBodyKey {
    static func make(_ purpose: String, body: ByteBuffer, principal: Principal?, constitutionHash: String) -> String {
        var hasher = SHA256()
        var agent = principal?.canonicalRuleInput ?? "null"
        agent.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        withUnsafeBytes(of: UInt8(0)) { hasher.update(bufferPointer: $0) }
        body.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        var key = purpose
        key.reserveCapacity(purpose.utf8.count + 1 + constitutionHash.utf8.count + 1 + 64)
        key += ":"
        key += constitutionHash
        key += ":"
        key += Digest.hex(hasher.finalize())
        return key
    }
}
