import Drivers
import Foundation
import Testing

@Suite struct HostTimeZoneTests {
    @Test func thisBuildResolvesNamedZones() throws {
        try HostTimeZone.verify()
    }

    /// A Foundation without ICU's zones answers nil for a named zone (and GMT for the host's):
    /// refused with what it would break, instead of rotating at UTC times.
    @Test func aFoundationWithoutZonesIsRefused() {
        #expect(throws: HostTimeZoneError()) { try HostTimeZone.verify(resolve: { _ in nil }) }
        #expect(throws: HostTimeZoneError()) { try HostTimeZone.verify(resolve: { _ in TimeZone(secondsFromGMT: 0) }) }
        #expect(HostTimeZoneError().message.contains("rotation times and quota periods would be read in UTC"))
    }
}
