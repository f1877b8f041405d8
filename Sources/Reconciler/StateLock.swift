import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One reconciler per state directory: an exclusive `flock` on the state directory itself, so
/// that renaming, deleting or replacing any file inside it cannot let a second reconciler in.
/// The holder's pid comes from the kernel's own table (/proc/locks), not from a file someone may
/// have removed; `state/lock` still records it for people. The kernel drops the lock when the
/// holder dies, however it dies.
public final class StateLock: Sendable {
    private let fd: Int32
    public let directory: String

    /// Takes the lock on `directory` or fails at once, naming the holder's pid.
    public init(directory: String) throws(StateError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("cannot open", directory) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.holder(of: fd)
            close(fd)
            guard code == EWOULDBLOCK else { throw .system("cannot lock", directory, errno: code) }
            throw StateError(reason: "StateLocked",
                             message: "\(directory) is held by another reconciler (pid \(holder.map(String.init) ?? "unknown")); only one may run per state directory")
        }
        self.fd = fd
        self.directory = directory
        // For people only: the lock itself is the directory's.
        _ = try? AtomicFile.write(Data("\(getpid())\n".utf8), to: directory + "/lock")
    }

    deinit { close(fd) }

    /// The pid holding a flock on the file behind `fd`, from /proc/locks
    /// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; a blocked waiter's line has `->`).
    static func holder(of fd: Int32) -> Int32? {
        var info = stat()
        guard fstat(fd, &info) == 0, let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let device = String(format: "%02x:%02x:%llu", major(info.st_dev), minor(info.st_dev), UInt64(info.st_ino))
        for line in table.split(separator: "\n") where !line.contains("->") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5] == device else { continue }
            return Int32(fields[4])
        }
        return nil
    }

    private static func major(_ device: dev_t) -> UInt32 { UInt32((device >> 8) & 0xfff) | UInt32((device >> 32) & ~0xfff) }
    private static func minor(_ device: dev_t) -> UInt32 { UInt32(device & 0xff) | UInt32((device >> 12) & ~0xff) }
}
