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
        let events = InotifyReader(inotify: inotify, filter: filter)
        BurstWatch(descriptors: [inotify], quietPeriod: debounce, maxDelay: debounce * 4, drain: events.drain)
            .start(name: "watch \(directory)", stop: stopPipe, wake: { continuation.yield(reason) }) {
                close(inotify)
                continuation.finish()
            }
    }

    /// Ends the watch; `wakeups` finishes shortly after.
    public func stop() {
        stopPipe.fire()
    }

    deinit {
        stopPipe.fire()
    }
}

/// Reads the inotify descriptor's queued events for the watcher's thread.
private struct InotifyReader: Sendable {
    let inotify: Int32
    let filter: DirectoryWatcher.Filter

    /// Reads every queued event; true when one of them concerns a matching name (or events were lost).
    func drain() -> Bool {
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
