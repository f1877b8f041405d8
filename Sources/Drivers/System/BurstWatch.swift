import Foundation
import Glibc

/// A thread that polls one descriptor and turns each burst of its events into one wake-up, sent
/// once the descriptor has been quiet for `quietPeriod` but never later than `maxDelay` after the
/// burst began, so a source that never goes quiet cannot starve the loop. The daemon's watches
/// share it: farm.yaml's directory (inotify), hot-plug (udev's netlink monitor) and proxy exits
/// (pidfds in an epoll set).
struct BurstWatch: Sendable {
    let descriptor: Int32
    let quietPeriod: Duration
    let maxDelay: Duration
    /// Reads what made the descriptor readable; true when any of it matters.
    let drain: @Sendable () -> Bool

    /// Runs on a thread named `name` until `stop` fires or the descriptor fails (an error event
    /// without data), then calls `ended` on that thread.
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
        func deadline() -> ContinuousClock.Instant? {
            burst.map { min($0.last.advanced(by: quietPeriod), $0.began.advanced(by: maxDelay)) }
        }
        while true {
            var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stop.readEnd, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, deadline().map { Self.milliseconds(until: $0, clock) } ?? -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            let events = fds[0].revents
            if events & Int16(POLLIN) != 0 {
                if drain() {
                    let now = clock.now
                    burst = (burst?.began ?? now, now)
                }
            } else if events != 0 {
                return
            }
            if let due = deadline(), clock.now >= due {
                wake()
                burst = nil
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
