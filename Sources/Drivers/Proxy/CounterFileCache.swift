import Glibc
import Reconciler
import Synchronization

/// The proxies' counter files as last read: a pass reads a file again only when 3proxy wrote it
/// since (once a minute at most), so the no-op pass costs one `stat` per modem. A file written in
/// the last two seconds may still be being written (3proxy writes it in place, record by record), so
/// it is read again next time rather than remembered.
final class CounterFileCache: Sendable {
    private struct Stamp: Equatable {
        var inode: UInt
        var size: Int
        var seconds: Int
        var nanoseconds: Int
    }

    private let entries = Mutex<[String: (stamp: Stamp, counters: ProxyCounters?)]>([:])

    func counters(at path: String) -> ProxyCounters? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            entries.withLock { $0[path] = nil }
            return nil
        }
        let stamp = Stamp(inode: UInt(info.st_ino), size: Int(info.st_size), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
        if let cached = entries.withLock({ $0[path] }), cached.stamp == stamp { return cached.counters }
        let counters = ProcFS.read(path).flatMap { ProxyCounters.decode($0) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        entries.withLock { $0[path] = now.tv_sec - stamp.seconds >= 2 ? (stamp, counters) : nil }
        return counters
    }
}
