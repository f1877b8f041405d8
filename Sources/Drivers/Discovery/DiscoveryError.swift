import Glibc
import Reconciler

/// Why the USB bus could not be looked at or watched.
public enum DiscoveryError: OperatorFacingError, Equatable, CustomStringConvertible {
    /// libudev could not be initialised (no /sys, or out of memory).
    case udevUnavailable
    /// Scanning the udev device list failed; `errno` says why.
    case enumerationFailed(errno: Int32)
    /// The netlink uevent socket could not be opened or bound (e.g. no permission in a container).
    case monitorUnavailable(step: String, errno: Int32)

    public var reason: String {
        switch self {
        case .udevUnavailable: "UdevUnavailable"
        case .enumerationFailed: "UdevEnumerationFailed"
        case .monitorUnavailable: "UdevMonitorUnavailable"
        }
    }

    public var message: String {
        switch self {
        case .udevUnavailable:
            "libudev could not be initialised: is /sys mounted?"
        case .enumerationFailed(let code):
            "scanning udev devices failed: \(Self.describe(code))"
        case .monitorUnavailable(let step, let code):
            "cannot watch USB hot-plug (\(step)): \(Self.describe(code)); modems are then only seen on the next timed pass"
        }
    }

    public var description: String { message }

    private static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
