import Foundation
import Reconciler

/// The host's local time, which rotation times (`rotation: { at: […] }`) and quota periods are
/// read in. Foundation resolves named zones (`TZ`, `/etc/localtime`) through ICU, and a build with
/// `--static-swift-stdlib` (the documented release build) links that part only when the program
/// refers to it: without it, every zone silently becomes GMT and a rotation set for 03:00 runs at
/// 03:00 UTC.
public enum HostTimeZone {
    /// Fails when this build cannot resolve named zones. Asking for ICU's time zone data version
    /// is what keeps ICU's zones in a static build; the lookup catches any other way of losing
    /// them.
    public static func verify(resolve: (String) -> TimeZone? = { TimeZone(identifier: $0) }) throws(HostTimeZoneError) {
        guard !TimeZone.timeZoneDataVersion.isEmpty, resolve("Europe/Berlin")?.secondsFromGMT(for: Date(timeIntervalSince1970: 0)) == 3600 else {
            throw HostTimeZoneError()
        }
    }
}

/// This `reconcile` cannot read local time: a build that left out Foundation's time zones.
public struct HostTimeZoneError: OperatorFacingError, Equatable, CustomStringConvertible {
    public init() {}

    public var reason: String { "TimeZonesMissing" }
    public var message: String {
        "this reconcile cannot resolve time zones (its Foundation has no ICU time zone data), so rotation times and "
            + "quota periods would be read in UTC; build it with a full Swift toolchain for Linux (README: Quick start)"
    }
    public var description: String { message }
}
