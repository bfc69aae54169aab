import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a webhook may deliver. An agent chooses its webhook's URL, and the server makes the request:
/// without this check an agent could make the server post to the loopback interface, the cloud
/// metadata address or any service inside the deployment's network, and read the answers' status
/// codes in the delivery log. Unless the deployment allows private networks
/// (`webhooks.allow_private_networks`, for receivers inside it), every address the host resolves to
/// must be public. The check runs at registration and again before each delivery, since a name can
/// resolve elsewhere later.
enum WebhookDestination {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// Refuses a URL whose host does not resolve, or resolves to an address that is not public. The
    /// refusal names the kind of address, not the address: an agent learns nothing of the network.
    static func check(_ url: URL) async throws(Refusal) {
        guard let host = url.host, !host.isEmpty else { throw Refusal(description: "the URL has no host") }
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        // A name lookup blocks, for seconds when DNS is slow: not on Swift's few cooperative threads.
        let addresses = (try? await NIOThreadPool.singleton.runIfActive { resolve(name) }) ?? []
        guard !addresses.isEmpty else { throw Refusal(description: "the host '\(name)' does not resolve") }
        for address in addresses {
            if let kind = nonPublicKind(address) {
                throw Refusal(description: "the host '\(name)' resolves to \(kind) address")
            }
        }
    }

    /// One resolved address: 4 or 16 bytes.
    struct Address: Sendable {
        var bytes: [UInt8]
    }

    static func resolve(_ host: String) -> [Address] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let info = node?.pointee {
            if info.ai_family == AF_INET, let sa = info.ai_addr {
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin_addr) { addresses.append(Address(bytes: Array($0))) }
                }
            } else if info.ai_family == AF_INET6, let sa = info.ai_addr {
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { addresses.append(Address(bytes: Array($0))) }
                }
            }
            node = info.ai_next
        }
        return addresses
    }

    /// What kind of non-public address this is (with its article), or nil for a public one.
    static func nonPublicKind(_ address: Address) -> String? {
        let b = address.bytes
        if b.count == 4 { return nonPublicKindV4(b) }
        guard b.count == 16 else { return "an unknown" }
        // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses carry an IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return nonPublicKindV4(Array(b[12..<16])) }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) {
            return nonPublicKindV4(Array(b[12..<16]))
        }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] == 1 ? "a loopback" : "an unspecified" }
        if b[0] & 0xFE == 0xFC { return "a unique local (private)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return "a link-local" }
        if b[0] == 0xFF { return "a multicast" }
        return nil
    }

    static func nonPublicKindV4(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "an unspecified"
        case (10, _), (172, 16...31), (192, 168): return "a private"
        case (100, 64...127): return "a shared (carrier-grade NAT)"
        case (127, _): return "a loopback"
        case (169, 254): return "a link-local (cloud metadata)"
        case (192, 0) where b[2] == 0: return "a reserved"
        case (198, 18...19): return "a benchmarking"
        case (224...239, _): return "a multicast"
        case (240...255, _): return "a reserved"
        default: return nil
        }
    }
}
