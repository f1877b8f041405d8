import Foundation
import Reconciler

/// Watches one directory for files that are written, created, renamed in or out, or deleted,
/// and turns each burst of such events into a single wake-up.
///
/// The directory, not the file, is watched because editors and `git checkout` replace a file by
/// renaming another over it: a watch on the old inode would go quiet after the first save.
/// Debouncing means an editor's write-temp-then-rename, or a checkout touching many files, wakes
/// the loop once. A burst that never goes quiet still wakes the loop every `4 × debounce`.
public final class DirectoryWatcher: WakeSource {
    /// Which entries of the directory matter.
    public enum Filter: Sendable, Equatable {
        /// Exactly these names, e.g. `["farm.yaml"]`.
        case names(Set<String>)
        /// Names starting with one of these, e.g. `["rotate-", "reset-"]`.
        case prefixes([String])

        func matches(_ name: String) -> Bool {
            switch self {
            case .names(let names): names.contains(name)
            case .prefixes(let prefixes): prefixes.contains { name.hasPrefix($0) }
            }
        }
    }

    public let wakeups: AsyncStream<WakeReason>
    private let stopPipe: StopPipe

    /// Starts watching at once; every matching burst yields `reason`.
    public init(directory: String, filter: Filter, reason: WakeReason, debounce: Duration = .milliseconds(300)) throws(SystemCallError) {
        let inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { throw SystemCallError("start inotify") }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM)
        guard inotify_add_watch(inotify, directory, mask | UInt32(IN_ONLYDIR)) >= 0 else {
            let error = SystemCallError("watch directory \(directory)")
            close(inotify)
            throw error
        }
        let stopPipe: StopPipe
        do {
            stopPipe = try StopPipe()
        } catch {
            close(inotify)
            throw error
        }
        self.stopPipe = stopPipe
        let (stream, continuation) = AsyncStream.makeStream(of: WakeReason.self, bufferingPolicy: .bufferingNewest(1))
        wakeups = stream
        continuation.onTermination = { _ in stopPipe.fire() }
        let loop = WatchLoop(inotify: inotify, stopPipe: stopPipe, filter: filter, debounce: debounce) {
            continuation.yield(reason)
        }
        let thread = Thread {
            loop.run()
            continuation.finish()
        }
        thread.name = "watch \(directory)"
        thread.start()
    }

    /// Ends the watch; `wakeups` finishes shortly after.
    public func stop() {
        stopPipe.fire()
    }

    deinit {
        stopPipe.fire()
    }
}

/// The watcher's thread: poll() on inotify and the stop pipe, with the debounce deadline as timeout.
private struct WatchLoop: Sendable {
    let inotify: Int32
    let stopPipe: StopPipe
    let filter: DirectoryWatcher.Filter
    let debounce: Duration
    let wake: @Sendable () -> Void

    func run() {
        defer { close(inotify) }
        let clock = ContinuousClock()
        var burstStart: ContinuousClock.Instant?
        var quietUntil = clock.now
        while true {
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stopPipe.readEnd, events: Int16(POLLIN), revents: 0)]
            let deadline = burstStart.map { min(quietUntil, $0 + debounce * 4) }
            let timeout = deadline.map { Self.milliseconds(until: $0, clock: clock) } ?? -1
            let ready = poll(&fds, 2, timeout)
            if ready < 0 && errno != EINTR { return }
            if fds[1].revents != 0 { return }
            if fds[0].revents != 0 {
                if drainEvents() {
                    burstStart = burstStart ?? clock.now
                    quietUntil = clock.now + debounce
                }
            }
            if let deadline = burstStart.map({ min(quietUntil, $0 + debounce * 4) }), clock.now >= deadline {
                burstStart = nil
                wake()
            }
        }
    }

    /// Reads every queued event; true when one of them concerns a matching name (or events were lost).
    private func drainEvents() -> Bool {
        var relevant = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            guard count > 0 else { return relevant }
            buffer.withUnsafeBytes { bytes in
                for event in InotifyEvent.parse(bytes.prefix(count)) where event.overflowed || filter.matches(event.name) {
                    relevant = true
                }
            }
        }
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Int32 {
        let left = clock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}

/// One `struct inotify_event` from the kernel's byte stream.
struct InotifyEvent: Equatable {
    var mask: UInt32
    var name: String

    /// The kernel dropped events: treat as "anything may have changed".
    var overflowed: Bool { mask & UInt32(IN_Q_OVERFLOW) != 0 }

    /// Splits a read() of an inotify descriptor: 16-byte headers, each followed by a NUL-padded name.
    static func parse(_ bytes: Slice<UnsafeRawBufferPointer>) -> [InotifyEvent] {
        let header = 16
        var events: [InotifyEvent] = []
        var offset = bytes.startIndex
        while offset + header <= bytes.endIndex {
            let mask = bytes.base.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = Int(bytes.base.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + header
            let nameEnd = min(nameStart + length, bytes.endIndex)
            let nameBytes = bytes.base[nameStart..<nameEnd].prefix { $0 != 0 }
            events.append(InotifyEvent(mask: mask, name: String(decoding: nameBytes, as: UTF8.self)))
            offset = nameStart + length
        }
        return events
    }
}
