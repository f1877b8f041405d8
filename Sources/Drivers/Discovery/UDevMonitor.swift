import CUDev
import Foundation
import Glibc
import Reconciler

/// Wakes the loop on USB hot-plug: a udev netlink monitor on the subsystems a modem is made of
/// (`usb`, `usbmisc`, `net`, `tty`). Events are only triggers, so they are not decoded. A burst
/// folds into one wake-up that goes out once the bus has been quiet for `quietPeriod` — a modem
/// alone emits a dozen uevents, and 30 powering up emit hundreds over a few seconds — but never
/// later than `maxDelay` after the burst began, so a flapping device cannot starve the loop.
public struct UDevMonitor: HardwareEvents {
    public let quietPeriod: Duration
    public let maxDelay: Duration
    /// Told of every event at once (not after the quiet period), so an inventory scan made during a
    /// burst is not kept.
    public let changes: UDevChanges?

    public init(quietPeriod: Duration = .milliseconds(300), maxDelay: Duration = .seconds(3), changes: UDevChanges? = nil) {
        self.quietPeriod = quietPeriod
        self.maxDelay = maxDelay
        self.changes = changes
    }

    /// Subscribes before returning, so that no event after the call is missed. The watch runs on
    /// its own thread until the consumer stops iterating the stream.
    public func wakeUps() throws(DiscoveryError) -> AsyncStream<Void> {
        let monitor = try Monitor()
        let stop: StopPipe
        do {
            stop = try StopPipe()
        } catch {
            throw .monitorUnavailable(step: "stop pipe", errno: error.code)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in stop.fire() }
        let changes = self.changes
        changes?.startWatching()
        let drain: @Sendable () -> Bool = {
            changes?.noteEvents()
            monitor.drain()
            return true
        }
        BurstWatch(descriptors: [monitor.descriptor], quietPeriod: quietPeriod, maxDelay: maxDelay, drain: drain)
            .start(name: "udev-monitor", stop: stop, wake: { continuation.yield() }) {
                changes?.stopWatching()
                continuation.finish()
            }
        return stream
    }
}

/// The libudev monitor of one watch. Its handles are touched only by the watch's thread (and
/// released when the last owner lets go), hence the unchecked Sendable.
private final class Monitor: @unchecked Sendable {
    private let udev: OpaquePointer
    private let monitor: OpaquePointer

    init() throws(DiscoveryError) {
        guard let udev = udev_new() else { throw .udevUnavailable }
        guard let monitor = udev_monitor_new_from_netlink(udev, "udev") else {
            udev_unref(udev)
            throw .monitorUnavailable(step: "netlink socket", errno: errno)
        }
        self.udev = udev
        self.monitor = monitor
        for subsystem in ["usb", "usbmisc", "net", "tty"] {
            udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, nil)
        }
        let status = udev_monitor_enable_receiving(monitor)
        guard status >= 0 else { throw .monitorUnavailable(step: "bind", errno: -status) }
    }

    deinit {
        udev_monitor_unref(monitor)
        udev_unref(udev)
    }

    var descriptor: Int32 { udev_monitor_get_fd(monitor) }

    /// Reads every queued event: their content does not matter, only that something changed.
    func drain() {
        while let device = udev_monitor_receive_device(monitor) {
            udev_device_unref(device)
        }
    }
}
