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
        let watch = try MonitorWatch()
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in watch.stop() }
        let (timing, changes) = ((quietPeriod, maxDelay), self.changes)
        changes?.startWatching()
        let thread = Thread {
            watch.run(quietPeriod: timing.0, maxDelay: timing.1, changes: changes, wake: continuation)
            changes?.stopWatching()
        }
        thread.name = "udev-monitor"
        thread.start()
        return stream
    }
}

/// The monitor socket and the stop signal of one watch. The libudev handles are touched only by
/// the watch thread (and released when the last owner lets go); `stop()` only writes to a pipe,
/// which is safe from any thread — hence the unchecked Sendable.
private final class MonitorWatch: @unchecked Sendable {
    private let udev: OpaquePointer
    private let monitor: OpaquePointer
    /// Read and write end of the pipe that interrupts `poll` when the consumer goes away.
    private let stopSignal: (read: Int32, write: Int32)

    init() throws(DiscoveryError) {
        guard let udev = udev_new() else { throw .udevUnavailable }
        guard let monitor = udev_monitor_new_from_netlink(udev, "udev") else {
            udev_unref(udev)
            throw .monitorUnavailable(step: "netlink socket", errno: errno)
        }
        self.udev = udev
        self.monitor = monitor
        var ends: [Int32] = [-1, -1]
        let piped = pipe(&ends)
        stopSignal = (ends[0], ends[1])
        guard piped == 0 else { throw .monitorUnavailable(step: "stop pipe", errno: errno) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        for subsystem in ["usb", "usbmisc", "net", "tty"] {
            udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, nil)
        }
        let status = udev_monitor_enable_receiving(monitor)
        guard status >= 0 else { throw .monitorUnavailable(step: "bind", errno: -status) }
    }

    deinit {
        if stopSignal.read >= 0 { close(stopSignal.read) }
        if stopSignal.write >= 0 { close(stopSignal.write) }
        udev_monitor_unref(monitor)
        udev_unref(udev)
    }

    func stop() {
        var byte: UInt8 = 1
        _ = write(stopSignal.write, &byte, 1)
    }

    /// Polls until stopped, sending one wake-up per burst. A socket error ends the stream (the
    /// loop then falls back to its timer).
    func run(quietPeriod: Duration, maxDelay: Duration, changes: UDevChanges?, wake: AsyncStream<Void>.Continuation) {
        defer { wake.finish() }
        let clock = ContinuousClock()
        var burst: (began: ContinuousClock.Instant, last: ContinuousClock.Instant)?
        var fds = [pollfd(fd: udev_monitor_get_fd(monitor), events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stopSignal.read, events: Int16(POLLIN), revents: 0)]
        func deadline() -> ContinuousClock.Instant? {
            burst.map { min($0.last.advanced(by: quietPeriod), $0.began.advanced(by: maxDelay)) }
        }
        while true {
            let ready = poll(&fds, nfds_t(fds.count), deadline().map { Self.milliseconds(until: $0, clock) } ?? -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            let events = fds[0].revents
            if events & Int16(POLLIN) != 0 {
                changes?.noteEvents()
                drain()
                let now = clock.now
                burst = (burst?.began ?? now, now)
            } else if events != 0 {
                return
            }
            if let due = deadline(), clock.now >= due {
                wake.yield()
                burst = nil
            }
        }
    }

    /// Reads every queued event: their content does not matter, only that something changed.
    private func drain() {
        while let device = udev_monitor_receive_device(monitor) {
            udev_device_unref(device)
        }
    }

    private static func milliseconds(until end: ContinuousClock.Instant, _ clock: ContinuousClock) -> Int32 {
        let left = clock.now.duration(to: end)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
