import Foundation
import Glibc

/// A thread that polls descriptors and turns each burst of their events into one wake-up, sent
/// once they have been quiet for `quietPeriod` but never later than `maxDelay` after the burst
/// began, so a source that never goes quiet cannot starve the loop. The daemon's watches share
/// it: farm.yaml's directory (inotify), hot-plug (udev's netlink monitor), proxy exits (pidfds in
/// an epoll set) and changes to the kernel's routing and nftables (netlink).
struct BurstWatch: Sendable {
    let descriptors: [Int32]
    let quietPeriod: Duration
    let maxDelay: Duration
    /// The least time between two wake-ups, so a source that keeps changing (another program
    /// fighting over the same rules) costs at most one pass per gap.
    var minimumGap: Duration = .zero
    /// Reads what made a descriptor readable (or took its error: a netlink socket's overflow, which
    /// reading clears); true when any of it matters.
    let drain: @Sendable () -> Bool

    /// Runs on a thread named `name` until `stop` fires or a descriptor is gone (hung up, closed),
    /// then calls `ended` on that thread.
    func start(name: String, stop: StopPipe, wake: @escaping @Sendable () -> Void, ended: @escaping @Sendable () -> Void) {
        let thread = Thread {
            run(stop: stop, wake: wake)
            ended()
        }
        thread.name = name
        thread.start()
    }

    private func run(stop: StopPipe, wake: () -> Void) {
        let clock = ContinuousClock()
        var burst: (began: ContinuousClock.Instant, last: ContinuousClock.Instant)?
        var lastWake: ContinuousClock.Instant?
        func deadline() -> ContinuousClock.Instant? {
            burst.map { burst in
                let due = min(burst.last.advanced(by: quietPeriod), burst.began.advanced(by: maxDelay))
                return lastWake.map { max(due, $0.advanced(by: minimumGap)) } ?? due
            }
        }
        let watched = descriptors.count
        while true {
            var fds = (descriptors + [stop.readEnd]).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), deadline().map { Self.milliseconds(until: $0, clock) } ?? -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[watched].revents != 0 { return }
            let events = fds.prefix(watched).reduce(Int16(0)) { $0 | $1.revents }
            if events & Int16(POLLHUP | POLLNVAL) != 0 { return }
            if events != 0, drain() {
                let now = clock.now
                burst = (burst?.began ?? now, now)
            }
            if let due = deadline(), clock.now >= due {
                wake()
                burst = nil
                lastWake = clock.now
            }
        }
    }

    /// Rounded up, so the poll never wakes just before the deadline and spins.
    private static func milliseconds(until end: ContinuousClock.Instant, _ clock: ContinuousClock) -> Int32 {
        let left = clock.now.duration(to: end)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
