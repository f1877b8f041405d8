import Spec
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
            let holder = Self.holder(ofDirectory: directory)
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

    /// The pid of the reconciler holding `directory`'s lock, or nil when none does. Read from
    /// /proc/locks (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; a blocked waiter's line
    /// has `->`), so looking never takes the lock: `reconcile serve` asks whether a daemon runs
    /// without ever stopping one that starts at that instant. The kernel lists each CPU's locks
    /// newest first, so the daemon's line comes after every lock taken since it started: the
    /// table is read to its end. `locks` stands in for the table in tests.
    public static func holder(ofDirectory directory: String, locks: String? = nil) -> Int32? {
        guard let wanted = kernelID(of: directory), let table = locks ?? WholeFile.text("/proc/locks") else { return nil }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5] == wanted, let pid = Int32(fields[4]) else { continue }
            return pid
        }
        return nil
    }

    /// A file as /proc/locks names it: `MAJOR:MINOR:INODE`, device numbers in hex (glibc's `major`/`minor`).
    public static func kernelID(of path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        return PlainText.padded(major, radix: 16, width: 2) + ":" + PlainText.padded(minor, radix: 16, width: 2) + ":" + String(info.st_ino)
    }
}
