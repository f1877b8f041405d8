import CGlibcExtras
import Glibc
import Synchronization

/// What earlier looks established about the proxies, kept so that an idle pass asks the kernel one
/// cheap question per proxy instead of reading /proc again:
/// - a process found to be a modem's 3proxy is held by a pidfd. A pidfd is that process, never a
///   later one with the same number, and polls readable once it has exited, so while it does not,
///   the process is still that 3proxy (3proxy never execs). The pidfds also sit in an epoll set,
///   so the daemon learns of a proxy's exit at once (`exits()`) instead of at its next pass;
/// - a listening socket found in a process's descriptor table is remembered with the descriptor's
///   number, and next time one `readlink` of it says whether that process still holds it.
final class ProxyWatch: Sendable {
    private struct Process {
        var configPath: String
        var pidfd: Int32
    }

    private struct State {
        var processes: [Int32: Process] = [:]
        /// Socket inode → where it was found.
        var sockets: [UInt64: (pid: Int32, fd: Int32)] = [:]
    }

    private let state = Mutex(State())
    /// `pidfd_open(2)`: a descriptor, or -1 with errno set. Replaceable so that tests can be the
    /// kernel before 5.3 (ENOSYS) or a process out of descriptors (EMFILE).
    private let openPidfd: @Sendable (Int32) -> Int32
    /// Every remembered pidfd, one-shot: an exit is reported once, and the pidfd leaves the set
    /// when the next look finds the exit and closes it.
    private let exited: Int32

    init(openPidfd: @escaping @Sendable (Int32) -> Int32 = { proxyfarm_pidfd_open($0) }) {
        self.openPidfd = openPidfd
        exited = epoll_create1(Int32(EPOLL_CLOEXEC))
    }

    deinit {
        state.withLock { $0.processes.values.forEach { close($0.pidfd) } }
        if exited >= 0 { close(exited) }
    }

    /// One wake-up per burst of exits of remembered proxies (a crash, a kill, an OOM kill), so
    /// the daemon starts a proxy again at once. Runs until the consumer stops iterating.
    func exits() throws(SystemCallError) -> AsyncStream<Void> {
        guard exited >= 0 else { throw SystemCallError("create an epoll set for the proxies' exits") }
        let stop = try StopPipe()
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in stop.fire() }
        BurstWatch(descriptors: [exited], quietPeriod: .milliseconds(100), maxDelay: .seconds(1), drain: drainExits)
            .start(name: "proxy-exits", stop: stop, wake: { continuation.yield() }) { continuation.finish() }
        return stream
    }

    /// Takes the reported exits off the epoll set (their one-shot entries are then disarmed).
    private func drainExits() -> Bool {
        proxyfarm_epoll_drain(exited) > 0
    }

    /// Whether `pid` was found to be the 3proxy reading `configPath` and has not exited since.
    func isStill(_ pid: Int32, running configPath: String) -> Bool {
        state.withLock { state in
            guard let process = state.processes[pid] else { return false }
            var poll = pollfd(fd: process.pidfd, events: Int16(POLLIN), revents: 0)
            if process.configPath == configPath, Glibc.poll(&poll, 1, 0) == 0 { return true }
            close(process.pidfd)
            state.processes[pid] = nil
            return false
        }
    }

    /// Looks at `pid` with `isProxy` (its /proc files) and remembers the verdict when it is ours.
    /// The pidfd is opened first and checked after: a process that passed while still alive at the
    /// end is the one the pidfd holds, not a successor that got its number in between.
    func verify(_ pid: Int32, running configPath: String, _ isProxy: () -> Bool) -> Bool {
        if isStill(pid, running: configPath) { return true }
        let pidfd = openPidfd(pid)
        if pidfd < 0 && errno == ESRCH { return false }
        guard isProxy() else {
            if pidfd >= 0 { close(pidfd) }
            return false
        }
        // No pidfd to be had (a kernel before 5.3, no descriptor left): believed, not remembered.
        guard pidfd >= 0 else { return true }
        var poll = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, 0) == 0 else {
            close(pidfd)
            return false
        }
        state.withLock { state in
            if let earlier = state.processes.updateValue(Process(configPath: configPath, pidfd: pidfd), forKey: pid) { close(earlier.pidfd) }
        }
        // Level-triggered: a process that exits before it is added is reported as soon as it is.
        _ = proxyfarm_epoll_add_once(exited, pidfd)
        return true
    }

    /// The supervisor is about to stop `pid` itself: its exit is no news, so it wakes nobody.
    func expectExit(of pid: Int32) {
        state.withLock { state in
            if let process = state.processes[pid] { _ = epoll_ctl(exited, EPOLL_CTL_DEL, process.pidfd, nil) }
        }
    }

    /// Forgets processes other than `pids` (stopped, or no longer recorded).
    func keep(only pids: Set<Int32>) {
        state.withLock { state in
            for (pid, process) in state.processes where !pids.contains(pid) {
                close(process.pidfd)
                state.processes[pid] = nil
            }
        }
    }

    /// Which of `candidates` hold `listening` (inode → port) where they were last found: port →
    /// pids, and the sockets not found that way.
    func remembered(_ listening: [UInt64: Int], among candidates: Set<Int32>) -> (holders: [Int: Set<Int32>], unknown: [UInt64: Int]) {
        let places = state.withLock { $0.sockets }
        var holders: [Int: Set<Int32>] = [:]
        var unknown: [UInt64: Int] = [:]
        for (inode, port) in listening {
            if let place = places[inode], candidates.contains(place.pid), ProcFS.socketInode(place.pid, fd: place.fd) == inode {
                holders[port, default: []].insert(place.pid)
            } else {
                unknown[inode] = port
            }
        }
        return (holders, unknown)
    }

    /// Remembers where sockets were found; forgets sockets that no longer listen.
    func found(_ places: [UInt64: (pid: Int32, fd: Int32)], listening: [UInt64: Int]) {
        state.withLock { state in
            state.sockets = state.sockets.filter { listening[$0.key] != nil }.merging(places) { _, new in new }
        }
    }
}
