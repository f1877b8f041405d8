import Glibc
import Reconciler
import Synchronization

/// Files a pass looks at every time, as last read: a file is read again only when it was written
/// since, so a no-op pass costs one `stat` per file. A file written in the last two seconds may
/// still be being written (3proxy writes its counter file in place, record by record; an operator's
/// editor may be saving a config), so it is read again next time rather than remembered.
final class StampedFileCache<Value: Sendable>: Sendable {
    private struct Stamp: Equatable {
        var inode: UInt
        var size: Int
        var seconds: Int
        var nanoseconds: Int
    }

    private let decode: @Sendable ([UInt8]) -> Value?
    private let entries = Mutex<[String: (stamp: Stamp, value: Value?)]>([:])

    init(decode: @escaping @Sendable ([UInt8]) -> Value?) {
        self.decode = decode
    }

    /// The file's decoded content; nil when it is missing, unreadable or does not decode.
    func value(at path: String) -> Value? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            entries.withLock { $0[path] = nil }
            return nil
        }
        let stamp = Stamp(inode: UInt(info.st_ino), size: Int(info.st_size), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
        if let cached = entries.withLock({ $0[path] }), cached.stamp == stamp { return cached.value }
        let value = WholeFile.bytes(path).flatMap(decode)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        entries.withLock { $0[path] = now.tv_sec - stamp.seconds >= 2 ? (stamp, value) : nil }
        return value
    }
}
