import Foundation

/// Why the daemon loop runs a pass before its periodic timer (DESIGN §1: events only wake the loop
/// early; every pass still observes everything afresh).
public enum WakeReason: Sendable, Hashable, CustomStringConvertible {
    /// The first pass after the daemon started.
    case startup
    /// farm.yaml (or a file it names) was written, replaced by rename, or removed.
    case specChanged
    /// A request file appeared in `state/requests/`.
    case requestFiled
    /// A modem was plugged or unplugged.
    case hotplug
    /// A proxy the last passes started or found exited (crashed, killed).
    case proxyExited
    /// The kernel's routing or nftables changed (by anyone, this daemon included).
    case kernelChanged
    /// The operator asked for a re-read now (SIGHUP).
    case reloadRequested
    /// A health probe or a rotation is due, or the periodic drift repair.
    case timer

    public var description: String {
        switch self {
        case .startup: "startup"
        case .specChanged: "farm.yaml changed"
        case .requestFiled: "request filed"
        case .hotplug: "modem plugged or unplugged"
        case .proxyExited: "a proxy exited"
        case .kernelChanged: "routing or nftables changed"
        case .reloadRequested: "reload requested (SIGHUP)"
        case .timer: "timer"
        }
    }
}

/// Something that wakes the daemon loop: file watches, hot-plug, signals. Each element of
/// `wakeups` is one debounced wake-up; the stream finishes once the source is stopped.
public protocol WakeSource: Sendable {
    var wakeups: AsyncStream<WakeReason> { get }
    func stop()
}
