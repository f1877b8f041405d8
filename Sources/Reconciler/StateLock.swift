import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One reconciler per state directory: an exclusive `flock` on state/lock, which holds the pid of
/// its holder so that a second reconciler can say who is in the way. The kernel drops the lock
/// when the holder dies, however it dies.
public final class StateLock: Sendable {
    private let fd: Int32
    public let path: String

    /// Takes the lock or fails at once, naming the holder's pid.
    public init(path: String) throws(StateError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("cannot open", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            guard code == EWOULDBLOCK else { throw .system("cannot lock", path, errno: code) }
            let holder = (FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) } ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw StateError(reason: "StateLocked",
                             message: "\(path) is held by another reconciler (pid \(holder.isEmpty ? "unknown" : holder)); only one may run per state directory")
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, pid, pid.count, 0) == pid.count, fsync(fd) == 0 else {
            let error = StateError.system("cannot record pid in", path)
            close(fd)
            throw error
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }
}
