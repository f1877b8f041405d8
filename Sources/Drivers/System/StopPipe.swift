import Foundation
import Synchronization

/// A pipe whose read end a poll() loop watches, so another thread can stop that loop at once.
/// The writer end is closed on the first `fire()`, which makes the read end readable (EOF)
/// for good; firing again does nothing. Whoever polls keeps a reference until its loop ends.
final class StopPipe: Sendable {
    let readEnd: Int32
    private let writeEnd: Mutex<Int32?>

    init() throws(SystemCallError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SystemCallError("create a pipe") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        readEnd = fds[0]
        writeEnd = Mutex(fds[1])
    }

    func fire() {
        writeEnd.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    deinit {
        fire()
        close(readEnd)
    }
}
