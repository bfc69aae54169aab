import Foundation
import Testing

@testable import GovernanceCore

@Suite("Record identifiers")
struct RandomIdentifierTests {
    static func isLowerHex(_ s: Substring) -> Bool {
        s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    @Test("random identifiers have the prefix, the length and lower-case hex, and do not repeat")
    func random() {
        let ids = (0..<1000).map { _ in RandomIdentifier.make(prefix: "rep_", hexDigits: 20) }
        for id in ids {
            #expect(id.hasPrefix("rep_"))
            #expect(id.utf8.count == 24)
            #expect(Self.isLowerHex(id.dropFirst(4)))
        }
        #expect(Set(ids).count == ids.count)
    }

    @Test("time-ordered identifiers start with the time in milliseconds, so that later ones sort after")
    func timeOrdered() throws {
        let first = Date(timeIntervalSince1970: 1_795_000_000.1235)
        let id = RandomIdentifier.timeOrdered(prefix: "rev_", hexDigits: 24, now: first)
        #expect(id.utf8.count == 28)
        #expect(Self.isLowerHex(id.dropFirst(4)))
        #expect(UInt64(id.dropFirst(4).prefix(12), radix: 16) == 1_795_000_000_123)

        let later = (1...50).map { RandomIdentifier.timeOrdered(prefix: "rev_", hexDigits: 24, now: first.addingTimeInterval(Double($0) * 0.002)) }
        #expect(later.sorted() == later)
        #expect(later.allSatisfy { $0 > id })
        // The same millisecond: the random part keeps them apart.
        let together = (0..<1000).map { _ in RandomIdentifier.timeOrdered(prefix: "rev_", hexDigits: 24, now: first) }
        #expect(Set(together).count == together.count)
        #expect(together.allSatisfy { $0.hasPrefix(String(id.prefix(16))) })
    }
}
