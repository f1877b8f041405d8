import Synchronization

/// What the daemon's udev monitor saw, for the inventory to know whether its last scan still
/// holds: every event the monitor reads moves `generation` on, and `watching` is true only while
/// a monitor runs. Without one (no netlink socket, a monitor that failed) nothing is known, so
/// every look scans.
public final class UDevChanges: Sendable {
    private let state = Mutex<(generation: UInt64, watching: Bool)>((0, false))

    public init() {}

    /// Nil while no monitor watches.
    var generation: UInt64? {
        state.withLock { $0.watching ? $0.generation : nil }
    }

    func startWatching() { state.withLock { $0.watching = true } }

    func stopWatching() { state.withLock { $0.watching = false } }

    /// Called before the events are read, so a scan running meanwhile is not kept.
    func noteEvents() { state.withLock { $0.generation &+= 1 } }
}
