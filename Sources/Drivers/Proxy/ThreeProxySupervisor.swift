import Foundation
import Glibc
import Reconciler

/// Runs one 3proxy per modem as a real process (DESIGN §4, §7; shared/docs/3proxy.md).
///
/// Layout under the state directory: `proxies/<modem>.cfg` (0600, owned by the modem's uid so the
/// proxy can re-read it after dropping privileges), `proxies/<modem>.pid` (written by us: no
/// `pidfile`/`daemon`), `proxies/<modem>.reload` (a reload not yet judged), and
/// `log/proxies/<modem>/` (owned by the uid) for 3proxy's dated logs, its stdout (`3proxy.out`:
/// access lines when no log file is open) and its stderr (`3proxy.err`: config errors). Because
/// 3proxy exits 0 on config errors and says why only on stderr, every start and reload is judged
/// by what the kernel shows (alive, still ours, the ports listen) and by that stderr.
public struct ThreeProxySupervisor: ProxySupervisor {
    public let stateDirectory: String
    /// `3proxy` (looked up on PATH) or a path.
    public let binary: String
    /// How long a proxy has after SIGTERM before SIGKILL.
    public let gracePeriod: Duration
    /// How long a start or reload may take until every port listens.
    public let readinessTimeout: Duration
    /// How long `reload` waits inside a pass for the verdict; a reload still under way then is
    /// judged by the next look (`observe`), so a slow proxy never holds up the pass.
    public let reloadWait: Duration
    /// Run the proxies inside this named network namespace (`ip netns exec`), e.g. in a lab.
    public let networkNamespace: String?
    private let counterFiles = StampedFileCache { ProxyCounters.decode($0) }
    private let configs = StampedFileCache { String(decoding: $0, as: UTF8.self) }
    private let watch = ProxyWatch()

    public init(stateDirectory: String, binary: String = "3proxy", gracePeriod: Duration = .seconds(5),
                readinessTimeout: Duration = .seconds(10), reloadWait: Duration = .seconds(3), networkNamespace: String? = nil) {
        self.stateDirectory = Self.absolute(stateDirectory)
        self.binary = binary
        self.gracePeriod = gracePeriod
        self.readinessTimeout = readinessTimeout
        self.reloadWait = reloadWait
        self.networkNamespace = networkNamespace
    }

    public func configPath(modem: String) -> String { "\(stateDirectory)/proxies/\(modem).cfg" }
    public func pidPath(modem: String) -> String { "\(stateDirectory)/proxies/\(modem).pid" }
    /// Where the rendered config should point `log` (ProxyConfigInput.logDirectory).
    public func logDirectory(modem: String) -> String { "\(stateDirectory)/log/proxies/\(modem)" }
    /// Where the rendered config points `counter` (ProxyConfigInput.counterFile).
    public func counterPath(modem: String) -> String { logDirectory(modem: modem) + "/" + ProxyConfigInput.counterFileName }
    /// 3proxy's stdout, appended across starts.
    public func outputPath(modem: String) -> String { logDirectory(modem: modem) + "/3proxy.out" }
    /// 3proxy's stderr, appended across starts: what starts and reloads are judged by.
    public func errorPath(modem: String) -> String { logDirectory(modem: modem) + "/3proxy.err" }

    /// One wake-up per burst of exits of proxies an earlier look found to be ours, for the daemon
    /// to look again at once: a crashed proxy is restarted within a pass, not at the next timer.
    public func exits() throws(SystemCallError) -> AsyncStream<Void> {
        try watch.exits()
    }

    // MARK: ProxySupervisor

    /// One look at the namespace's listening sockets serves every proxy (not one per proxy: the
    /// kernel walks its whole TCP table for each read of a `/proc/PID/net/tcp`).
    public func observe(ports: [String: [Int]]) async throws -> [String: ProxyObservation] {
        let modems = Set(ports.keys).union(recordedModems()).filter(Self.isSafeFileName)
        let recorded = Dictionary(modems.compactMap { modem in recordedPID(modem: modem).map { (modem, $0) } }, uniquingKeysWith: { first, _ in first })
        watch.keep(only: Set(recorded.values))
        let holders = listeners(ports: Set(ports.values.joined()), known: Set(recorded.values))
        var observations: [String: ProxyObservation] = [:]
        for modem in modems {
            let expected = Set(ports[modem] ?? [])
            var process: ProxyProcess?
            if let pid = recorded[modem] {
                ProxySpawner.reap(pid)
                if isOurProxy(pid, modem: modem) {
                    let listening = expected.allSatisfy { holders[$0]?.contains(pid) == true }
                    process = ProxyProcess(pid: pid, configPath: configPath(modem: modem), listening: listening,
                                           reloadFailure: pendingReloadFailure(modem: modem, pid: pid, ports: expected))
                } else {
                    removeRecord(modem: modem, ifPID: pid)
                }
            }
            let strays = Set(expected.flatMap { holders[$0] ?? [] }).subtracting(process.map { [$0.pid] } ?? [])
            let config = configs.value(at: configPath(modem: modem))
            let counters = counterFiles.value(at: counterPath(modem: modem))
            observations[modem] = ProxyObservation(process: process, config: config, strays: strays.sorted(), counters: counters)
        }
        return observations
    }

    public func writeConfig(modem: String, config: String, uid: UInt32) async throws {
        try Self.checkName(modem)
        try FileManager.default.createDirectory(atPath: stateDirectory + "/proxies", withIntermediateDirectories: true)
        try prepareLogDirectory(modem: modem, uid: uid, gid: uid)
        try prepareCounterFile(modem: modem, uid: uid)
        try startCountPeriods(modem: modem, config: config)
        let path = configPath(modem: modem)
        let bytes = Array(config.utf8)
        if WholeFile.bytes(path) == bytes {
            var info = stat()
            if stat(path, &info) == 0, info.st_uid == uid, info.st_gid == uid, info.st_mode & 0o7777 == 0o600 { return }
            guard chown(path, uid, uid) == 0 else { throw ProxySupervisorError.io(operation: "chown", path: path, errno: errno) }
            guard chmod(path, 0o600) == 0 else { throw ProxySupervisorError.io(operation: "chmod", path: path, errno: errno) }
            return
        }
        try AtomicFile.write(Data(bytes), to: path, mode: 0o600, owner: (uid, uid))
    }

    public func start(modem: String, ports: [Int]) async throws -> ProxyProcess {
        try Self.checkName(modem)
        guard let program = ProxySpawner.locate(binary) else { throw ProxySupervisorError.binaryMissing(binary: binary) }
        let config = configPath(modem: modem)
        var info = stat()
        guard stat(config, &info) == 0 else { throw ProxySupervisorError.configMissing(modem: modem, path: config) }
        if let pid = recordedPID(modem: modem), isOurProxy(pid, modem: modem) {
            return try await awaitStart(modem: modem, pid: pid, ports: ports, uid: info.st_uid, errorOffset: nil)
        }
        let busy = listeners(ports: Set(ports))
        if !busy.isEmpty {
            throw ProxySupervisorError.portInUse(modem: modem, ports: busy.keys.sorted(), pids: Set(busy.values.joined()).sorted())
        }
        try prepareLogDirectory(modem: modem, uid: info.st_uid, gid: info.st_gid)
        _ = try prepareOutput(outputPath(modem: modem), uid: info.st_uid, gid: info.st_gid)
        let offset = try prepareOutput(errorPath(modem: modem), uid: info.st_uid, gid: info.st_gid)
        var arguments = [program, config]
        if let networkNamespace {
            guard let ip = ProxySpawner.locate("ip", extraDirectories: ["/usr/sbin", "/sbin"]) else {
                throw ProxySupervisorError.binaryMissing(binary: "ip")
            }
            arguments = [ip, "netns", "exec", networkNamespace] + arguments
        }
        let pid = try ProxySpawner.spawn(arguments, outputPath: outputPath(modem: modem), errorPath: errorPath(modem: modem))
        try AtomicFile.write(Data("\(pid)\n".utf8), to: pidPath(modem: modem))
        return try await awaitStart(modem: modem, pid: pid, ports: ports, uid: info.st_uid, errorOffset: offset)
    }

    public func stop(modem: String, pid: Int32, keepingCounts: Bool) async throws {
        ProxySpawner.reap(pid)
        guard isOurProxy(pid, modem: modem) else {
            if ProcFS.isAlive(pid) { throw ProxySupervisorError.notOurProcess(modem: modem, pid: pid) }
            removeRecord(modem: modem, ifPID: pid)
            return
        }
        if keepingCounts { try await flushCounters(modem: modem, pid: pid) }
        watch.expectExit(of: pid)
        kill(pid, SIGTERM)
        if try await waitForExit(pid, within: gracePeriod) == false {
            if isOurProxy(pid, modem: modem) { kill(pid, SIGKILL) }
            if try await waitForExit(pid, within: .seconds(5)) == false {
                throw ProxySupervisorError.stopTimedOut(modem: modem, pid: pid)
            }
        }
        removeRecord(modem: modem, ifPID: pid)
    }

    // MARK: Helpers

    /// The pid runs the configured 3proxy binary with this modem's config path: a dead pid, or one
    /// reused by another program, is never ours and never signalled. Checked in /proc (alive, not a
    /// zombie, the command line) once, then followed through a pidfd (`ProxyWatch`).
    func isOurProxy(_ pid: Int32, modem: String) -> Bool {
        guard pid > 1 else { return false }
        let config = configPath(modem: modem)
        return watch.verify(pid, running: config) {
            guard ProcFS.isAlive(pid), let arguments = ProcFS.commandLine(pid), arguments.count >= 2, arguments.last == config else { return false }
            let program = Self.baseName(binary)
            return arguments.dropLast().contains { Self.baseName($0) == program }
        }
    }

    /// Every process in the proxies' namespace listening on one of `ports`: port → pids. The
    /// sockets come from one look at the namespace's listening sockets; their holders are first
    /// looked for where they were found before, then among `known` processes (our proxies). Only
    /// a listening socket none of them holds (a stray, or a proxy that is gone) makes every
    /// process of the machine be looked at, so an idle pass of a large farm checks one descriptor
    /// per port and reads no descriptor table.
    private func listeners(ports: Set<Int>, known: Set<Int32> = []) -> [Int: Set<Int32>] {
        guard !ports.isEmpty, let all = ListeningSockets.of(namespace: namespacePath) else { return [:] }
        let listening = all.filter { ports.contains($0.value) }
        guard !listening.isEmpty else { return [:] }
        var (holders, unknown) = watch.remembered(listening, among: known)
        var places: [UInt64: (pid: Int32, fd: Int32)] = [:]
        if !unknown.isEmpty {
            let found = ProcFS.holders(of: unknown, among: Array(known))
            holders.merge(found.holders) { $0.union($1) }
            places = found.places
            unknown = unknown.filter { found.places[$0.key] == nil }
        }
        if !unknown.isEmpty, let namespace = ProcFS.namespaceID(namespacePath) {
            let members = ProcFS.allPIDs().filter { !known.contains($0) && ProcFS.namespaceID("/proc/\($0)/ns/net") == namespace }
            let found = ProcFS.holders(of: unknown, among: members)
            holders.merge(found.holders) { $0.union($1) }
            places.merge(found.places) { first, _ in first }
        }
        watch.found(places, listening: all)
        return holders
    }

    var namespacePath: String { networkNamespace.map { "/run/netns/\($0)" } ?? "/proc/self/ns/net" }

    enum PollOutcome { case ready, waiting, failed }

    func poll(within limit: Duration? = nil, _ check: () -> PollOutcome) async throws -> PollOutcome {
        let deadline = ContinuousClock.now + (limit ?? readinessTimeout)
        while true {
            let outcome = check()
            if outcome != .waiting || ContinuousClock.now >= deadline { return outcome }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Ready = alive, every port listens, privileges dropped (`setuid` is the config's last line,
    /// so the whole file has been read) and no config error on stderr since the spawn.
    private func awaitStart(modem: String, pid: Int32, ports: [Int], uid: uid_t, errorOffset: Int?) async throws -> ProxyProcess {
        let errors = errorPath(modem: modem)
        let expected = Set(ports)
        let outcome = try await poll {
            ProxySpawner.reap(pid)
            guard ProcFS.isAlive(pid) else { return .failed }
            let listening = Set(ProcFS.listeners(of: pid, ports: expected).keys) == expected
            let dropped = uid == 0 || ProcFS.realUID(pid) == uid
            let clean = errorOffset.map { Self.configErrors(errors, from: $0).isEmpty } ?? true
            return listening && dropped && clean ? .ready : .waiting
        }
        guard outcome == .ready else {
            let exited = outcome == .failed
            if !exited && isOurProxy(pid, modem: modem) { kill(pid, SIGKILL) }
            _ = try await waitForExit(pid, within: .seconds(5))
            removeRecord(modem: modem, ifPID: pid)
            throw ProxySupervisorError.notListening(modem: modem, ports: ports, exited: exited,
                                                    stderrTail: Self.tail(errors, from: errorOffset ?? 0))
        }
        try adoptLogs(modem: modem, uid: uid)
        return ProxyProcess(pid: pid, configPath: configPath(modem: modem), listening: true)
    }

    private func waitForExit(_ pid: Int32, within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            ProxySpawner.reap(pid)
            if !ProcFS.isAlive(pid) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        ProxySpawner.reap(pid)
        return !ProcFS.isAlive(pid)
    }

    private func recordedModems() -> [String] {
        ProcFS.entries(stateDirectory + "/proxies").filter { $0.hasSuffix(".pid") && !$0.hasPrefix(".") }.map { String($0.dropLast(4)) }
    }

    private func recordedPID(modem: String) -> Int32? {
        WholeFile.text(pidPath(modem: modem)).flatMap { Int32(String($0.filter { !$0.isWhitespace })) }
    }

    private func removeRecord(modem: String, ifPID pid: Int32) {
        guard recordedPID(modem: modem) == pid else { return }
        unlink(pidPath(modem: modem))
        unlink(reloadPath(modem: modem))
    }

    private func prepareLogDirectory(modem: String, uid: uid_t, gid: gid_t) throws {
        let directory = logDirectory(modem: modem)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard chown(directory, uid, gid) == 0 else { throw ProxySupervisorError.io(operation: "chown", path: directory, errno: errno) }
        guard chmod(directory, 0o750) == 0 else { throw ProxySupervisorError.io(operation: "chmod", path: directory, errno: errno) }
    }

    /// 3proxy opens its counter file read-write at every config read: at start as root, after a
    /// reload as the proxy's uid. The file is created (empty: 3proxy writes its header) and kept
    /// owned by that uid, so a reload never fails on a file root made.
    private func prepareCounterFile(modem: String, uid: UInt32) throws(ProxySupervisorError) {
        let path = counterPath(modem: modem)
        let fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(operation: "stat", path: path, errno: errno) }
        if info.st_uid != uid || info.st_gid != uid {
            guard fchown(fd, uid, uid) == 0 else { throw .io(operation: "chown", path: path, errno: errno) }
        }
    }

    /// Dates the start of each new quota count in the counter file before 3proxy reads the config
    /// that adds it, so 3proxy does not forgive what the user moves until its next write
    /// (`ProxyCounters.periodStarts`). Records of rules 3proxy has loaded are its own: it rewrites
    /// them from memory, and a started record needs nothing.
    private func startCountPeriods(modem: String, config: String) throws(ProxySupervisorError) {
        let periodic = ProxyConfigRenderer.periodicCountNumbers(in: config)
        guard !periodic.isEmpty else { return }
        let path = counterPath(modem: modem)
        let writes = ProxyCounters.periodStarts(of: periodic, file: WholeFile.bytes(path) ?? [], now: Date())
        guard !writes.isEmpty else { return }
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        for write in writes {
            guard pwrite(fd, write.bytes, write.bytes.count, off_t(write.offset)) == write.bytes.count else {
                throw .io(operation: "write", path: path, errno: errno)
            }
        }
    }

    /// Creates the output file owned by the proxy's uid; returns its current size (where this run begins).
    private func prepareOutput(_ path: String, uid: uid_t, gid: gid_t) throws(ProxySupervisorError) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        guard fchown(fd, uid, gid) == 0 else { throw .io(operation: "chown", path: path, errno: errno) }
        return Int(lseek(fd, 0, SEEK_END))
    }
}
