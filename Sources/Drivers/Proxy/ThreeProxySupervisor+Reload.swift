import Foundation
import Glibc
import Reconciler

/// Reloads (SIGUSR1) and their verdicts.
///
/// 3proxy notices SIGUSR1 on its next one-second tick, re-reads the file, closes its listeners and
/// binds fresh ones, and prints any config error on stderr (it never exits for one). So a reload
/// took when the process is alive and still ours, every port listens on a socket that did not
/// exist before the signal, and its stderr shows no error since then. It failed when the process
/// died, became somebody else's, or printed an error; it is slow while none of these is known.
/// What the verdict needs is kept in `proxies/<modem>.reload` until it is known, so a slow reload
/// is finished by a later `observe` instead of being waited for inside the pass.
extension ThreeProxySupervisor {
    /// What a reload's verdict is judged against: written before the signal.
    struct PendingReload: Equatable {
        var pid: Int32
        /// Size of `3proxy.err` at the signal: later lines are this reload's.
        var errorOffset: Int
        /// Listening sockets before the signal: the reload has taken when none of them is left.
        var socketsBefore: Set<UInt64>
        /// CLOCK_BOOTTIME seconds at the signal (steady across daemon restarts and clock steps).
        var signalledAt: Double

        var text: String {
            "\(pid) \(errorOffset) \(signalledAt) \(socketsBefore.sorted().map(String.init).joined(separator: ","))\n"
        }

        init(pid: Int32, errorOffset: Int, socketsBefore: Set<UInt64>, signalledAt: Double) {
            self.pid = pid
            self.errorOffset = errorOffset
            self.socketsBefore = socketsBefore
            self.signalledAt = signalledAt
        }

        init?(text: String) {
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count >= 3, let pid = Int32(fields[0]), let offset = Int(fields[1]), let at = Double(fields[2]) else { return nil }
            let sockets = fields.count > 3 ? fields[3].split(separator: ",").compactMap { UInt64($0) } : []
            self.init(pid: pid, errorOffset: offset, socketsBefore: Set(sockets), signalledAt: at)
        }
    }

    enum ReloadVerdict: Equatable { case took, slow, failed(String) }

    public func reloadPath(modem: String) -> String { "\(stateDirectory)/proxies/\(modem).reload" }

    public func reload(modem: String, pid: Int32, ports: [Int]) async throws {
        guard isOurProxy(pid, modem: modem) else { throw ProxySupervisorError.notOurProcess(modem: modem, pid: pid) }
        var info = stat()
        guard stat(configPath(modem: modem), &info) == 0 else {
            throw ProxySupervisorError.configMissing(modem: modem, path: configPath(modem: modem))
        }
        // 3proxy reopens its dated log as the modem's uid after a reload: it must own the file.
        try adoptLogs(modem: modem, uid: info.st_uid)
        let expected = Set(ports)
        var pending = PendingReload(pid: pid, errorOffset: WholeFile.bytes(errorPath(modem: modem))?.count ?? 0,
                                    socketsBefore: Set(listeningSockets(pid, ports: expected).values.joined()), signalledAt: Self.bootSeconds())
        // A reload on top of one not yet judged keeps the earlier errors and sockets in its verdict.
        if let earlier = pendingReload(modem: modem), earlier.pid == pid {
            pending.errorOffset = min(pending.errorOffset, earlier.errorOffset)
            pending.socketsBefore.formUnion(earlier.socketsBefore)
        }
        try AtomicFile.write(Data(pending.text.utf8), to: reloadPath(modem: modem))
        guard kill(pid, SIGUSR1) == 0 else { throw ProxySupervisorError.io(operation: "signal", path: "pid \(pid)", errno: errno) }
        var verdict = ReloadVerdict.slow
        var tookSince: ContinuousClock.Instant?
        _ = try await poll(within: reloadWait) {
            verdict = judge(pending, modem: modem, ports: expected)
            guard verdict == .took else { return verdict == .slow ? .waiting : .ready }
            // 3proxy starts each service as it reads its line, so an error in a line below the last
            // service is printed after the fresh listeners are up: "took" counts once it held a moment.
            let since = tookSince ?? ContinuousClock.now
            tookSince = since
            return ContinuousClock.now - since >= Self.reloadSettle ? .ready : .waiting
        }
        switch verdict {
        case .took: unlink(reloadPath(modem: modem))
        // Kept: the next look reports the failure and the planner restarts the proxy.
        case .failed(let why):
            throw ProxySupervisorError.reloadFailed(modem: modem, why: why, stderrTail: Self.tail(errorPath(modem: modem), from: pending.errorOffset))
        case .slow: return
        }
    }

    /// The verdict of a reload recorded for `pid`, for `observe`: nil when it took or none is
    /// pending; a reason when it failed or has been slower than `readinessTimeout`.
    func pendingReloadFailure(modem: String, pid: Int32, ports: Set<Int>) -> String? {
        guard let pending = pendingReload(modem: modem) else { return nil }
        guard pending.pid == pid else {
            unlink(reloadPath(modem: modem))
            return nil
        }
        switch judge(pending, modem: modem, ports: ports) {
        case .took:
            unlink(reloadPath(modem: modem))
            return nil
        case .failed(let why):
            let tail = Self.tail(errorPath(modem: modem), from: pending.errorOffset)
            return "reload failed: " + why + (tail.isEmpty ? "" : ": " + tail)
        case .slow:
            let waited = Self.bootSeconds() - pending.signalledAt
            let limit = Double(readinessTimeout.components.seconds)
            return waited > limit ? "reload failed: ports not re-bound \(Int(waited)) s after SIGUSR1" : nil
        }
    }

    func judge(_ pending: PendingReload, modem: String, ports: Set<Int>) -> ReloadVerdict {
        ProxySpawner.reap(pending.pid)
        guard isOurProxy(pending.pid, modem: modem) else { return .failed("3proxy exited") }
        if !Self.configErrors(errorPath(modem: modem), from: pending.errorOffset).isEmpty {
            return .failed("3proxy reported a config error")
        }
        let now = listeningSockets(pending.pid, ports: ports)
        let fresh = now.count == ports.count && now.values.allSatisfy { $0.isDisjoint(with: pending.socketsBefore) }
        return fresh ? .took : .slow
    }

    /// Port → listening socket inodes of `pid`: the one place "its ports listen" is read, so a
    /// cheaper way (one socket dump per pass) can replace it.
    func listeningSockets(_ pid: Int32, ports: Set<Int>) -> [Int: Set<UInt64>] {
        ProcFS.listeners(of: pid, ports: ports)
    }

    func pendingReload(modem: String) -> PendingReload? {
        WholeFile.text(reloadPath(modem: modem)).flatMap(PendingReload.init(text:))
    }

    /// Hands the proxy's dated logs that 3proxy created as root (at start, before `setuid`) to the
    /// modem's uid, so that it can reopen them after a reload. Only plain, single-link files named
    /// like 3proxy's logs are touched, never through a symlink: the directory is the proxy's.
    func adoptLogs(modem: String, uid: uid_t) throws(ProxySupervisorError) {
        let directory = logDirectory(modem: modem)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .io(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        for name in ProcFS.entries(directory) where name.hasPrefix("3proxy.log") {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG,
                  info.st_nlink == 1, info.st_uid != uid, info.st_uid == 0 else { continue }
            guard fchownat(fd, name, uid, uid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw .io(operation: "chown", path: directory + "/" + name, errno: errno)
            }
        }
    }

    /// 3proxy writes its counter file once a minute and at a reload, and when it exits only if the
    /// minute changed since: before a stop, a reload makes it write the counts of the last minute. Waits until the file changed,
    /// at most `counterFlushLimit` (a proxy too busy or hung to answer is stopped all the same).
    func flushCounters(modem: String, pid: Int32) async throws {
        func written() -> timespec? {
            var info = stat()
            return stat(counterPath(modem: modem), &info) == 0 ? info.st_mtim : nil
        }
        guard let before = written() else { return }
        kill(pid, SIGUSR1)
        let deadline = ContinuousClock.now + Self.counterFlushLimit
        while ContinuousClock.now < deadline, ProcFS.isAlive(pid) {
            if let now = written(), now.tv_sec != before.tv_sec || now.tv_nsec != before.tv_nsec { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// How long a reload must look taken (fresh listeners, no config error) before it is believed.
    static let reloadSettle: Duration = .milliseconds(300)

    /// 3proxy looks at signals once a second; a reload of a busy proxy takes a little longer.
    static let counterFlushLimit: Duration = .seconds(3)

    static func bootSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
