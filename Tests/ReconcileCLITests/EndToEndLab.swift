import Foundation
import Synchronization
import Testing

/// A lab (`reconcile lab up`) for one end-to-end test: unique names per run, the real reconciler
/// run in it with `reconcile lab run`, and everything read back the way an operator would: status
/// files, `ip rule`, pid files, requests through the proxies.
final class EndToEndLab: @unchecked Sendable {
    /// Outside CI a non-root run skips (with this reason); in CI (CI=true) it runs and fails without root.
    static let canRun = geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"
    static let requirement = "needs root, nsenter, curl and iproute2 (runs and fails without them when CI=true)"
    private static let counter = Atomic<Int>(0)

    let name: String
    let directory: String
    let modems: Int
    /// The last modem's rotation interval in the generated farm.yaml.
    let rotateEvery: String
    private var daemon: Process?

    var farm: String { name + "-farm" }
    var inet: String { name + "-inet" }
    var state: String { directory + "/state" }

    /// `proxyBinary`: the proxy `lab up` chooses (default: an installed 3proxy, else the stand-in).
    init(modems: Int, rotateEvery: String = "10m", proxyBinary: String? = nil) throws {
        try #require(geteuid() == 0, "the end-to-end lab needs root")
        for tool in ["nsenter", "curl", "ip", "python3"] {
            try #require(Subprocess.which(tool) != nil, "\(tool) missing: run scripts/install-deps")
        }
        name = "pf\(getpid())e\(Self.counter.add(1, ordering: .relaxed).newValue)"
        directory = NSTemporaryDirectory() + name + "-lab"
        self.modems = modems
        self.rotateEvery = rotateEvery
        let up = try Subprocess.run(try Subprocess.reconcile, ["lab", "up", "--modems", String(modems), "--name", name, "--dir", directory]
                                    + (proxyBinary.map { ["--proxy-binary", $0] } ?? []))
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
    }

    /// Stops the daemon and takes the lab down (namespaces, host, files); safe to call twice.
    func down() {
        stopDaemon()
        _ = try? lab("down")
        // What the test itself put there (reconciler logs, a git repository) goes too.
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    func lab(_ arguments: String...) throws -> Finished {
        try Subprocess.run(try Subprocess.reconcile, ["lab"] + arguments + ["--name", name, "--dir", directory])
    }

    private var runArguments: [String] { ["lab", "run", "--name", name, "--dir", directory, "--rotate-every", rotateEvery, "--"] }

    /// `reconcile ARGUMENTS` inside the lab (one pass when empty).
    @discardableResult
    func reconcile(_ arguments: String...) throws -> Finished {
        try Subprocess.run(try Subprocess.reconcile, runArguments + arguments)
    }

    /// Writes the lab's farm.yaml (and secrets) without running anything, so a test can edit it first.
    func prepareFarm() throws {
        let dryRun = try reconcile("--dry-run")
        try #require(dryRun.status == 2, "dry run failed: \(dryRun.stderr)")
    }

    /// status/farm.json as the reconciler wrote it.
    func farmStatus() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: "\(state)/status/farm.json") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// `reconcile lab run` as a child that has not finished yet (for the daemon and crash tests).
    func spawn(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Subprocess.reconcile)
        process.arguments = runArguments + arguments
        process.standardInput = FileHandle.nullDevice
        let log = directory + "/reconcile-\(arguments.first ?? "pass").log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    func startDaemon() throws {
        daemon = try spawn(["daemon", "--debounce", "100ms"])
    }

    /// SIGTERM, then the daemon must end by itself: one killed by another signal crashed.
    func stopDaemon() {
        guard let daemon else { return }
        try? requireDaemonAlive()
        self.daemon = nil
        guard daemon.isRunning else { return }
        daemon.terminate()
        if let signal = Subprocess.reap(daemon), signal != SIGTERM {
            Issue.record("the daemon was killed by signal \(signal); log tail:\n\(daemonLog.suffix(3000))")
        }
    }

    /// The daemon this test started is still running: a crash is a failure, not something to restart.
    func expectDaemonAlive() throws {
        let running = daemon?.isRunning == true
        #expect(running, "the daemon died; log tail:\n\(daemonLog.suffix(2000))")
    }

    /// Waits until a pass the daemon logged as woken by `reason` (in its log after `offset`
    /// characters) has ended: a pass logs its cost last.
    func waitForPass(wokenBy reason: String, after offset: Int = 0) throws {
        try waitUntil("a pass woken by \(reason) has ended") {
            String(daemonLog.dropFirst(offset)).components(separatedBy: "pass: \(reason)").dropFirst().first?.contains("cpuMs=") == true
        }
    }

    var daemonLog: String { (try? String(contentsOfFile: directory + "/reconcile-daemon.log", encoding: .utf8)) ?? "" }

    /// One modem's status file as the reconciler wrote it.
    func status(_ modem: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: "\(state)/status/modems/\(modem).json") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    func phase(_ modem: String) -> String? { status(modem)?["phase"] as? String }
    func address(_ modem: String) -> String? { status(modem)?["ip"] as? String }

    var modemNames: [String] { (1...modems).map { $0 < 10 ? "m0\($0)" : "m\($0)" } }

    /// Polls `condition` every 50 ms until it holds; fails with `what` after `timeout`.
    func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            try requireDaemonAlive()
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what); daemon log tail:\n\(daemonLog.suffix(3000))")
                throw TimedOut()
            }
            usleep(50_000)
        }
    }

    struct TimedOut: Error {}

    /// A daemon that died by a signal crashed: that is a failure, never something to restart.
    /// (It exits by itself only through a test's own doing, which the test then checks.)
    func requireDaemonAlive() throws {
        guard let daemon, !daemon.isRunning, daemon.terminationReason == .uncaughtSignal else { return }
        Issue.record("the daemon was killed by signal \(daemon.terminationStatus); log tail:\n\(daemonLog.suffix(3000))")
        throw DaemonCrashed()
    }

    struct DaemonCrashed: Error {}

    func allReady() -> Bool { modemNames.allSatisfy { phase($0) == "Ready" } }

    /// The address the lab's what-is-my-IP server saw for a request through the modem's HTTP proxy.
    func egress(_ modem: Int) throws -> String? {
        let password = try String(contentsOfFile: directory + "/secrets/lab", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try Subprocess.inNamespace(farm, "curl", "-fsS", "-m", "5", "-x", "http://lab:\(password)@127.0.0.1:\(20000 + 10 * modem + 1)",
                                                "http://198.51.100.10/")
        return result.status == 0 ? result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// Downloads `bytes` from the lab's server through the modem's HTTP proxy; true when all came.
    func download(_ modem: Int, bytes: Int) throws -> Bool {
        let password = try String(contentsOfFile: directory + "/secrets/lab", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try Subprocess.inNamespace(farm, "curl", "-fsS", "-m", "20", "-o", "/dev/null", "-w", "%{size_download}",
                                                "-x", "http://lab:\(password)@127.0.0.1:\(20000 + 10 * modem + 1)",
                                                "http://198.51.100.10/bytes/\(bytes)")
        return result.status == 0 && result.stdout == String(bytes)
    }

    /// Each modem's sticky slot k (table tableBase+k, uid uidBase+k) from state/allocations.json.
    func allocationIndices() throws -> [String: Int] {
        let data = try Data(contentsOf: URL(fileURLWithPath: state + "/allocations.json"))
        let modems = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["modems"] as? [String: [String: Any]] ?? [:]
        return Dictionary(modems.values.compactMap { entry in
            (entry["name"] as? String).flatMap { name in (entry["index"] as? Int).map { (name, $0) } }
        }, uniquingKeysWith: { first, _ in first })
    }

    /// The farm namespace's policy rules, one line each (`ip rule show`).
    func rules() throws -> [String] {
        try Subprocess.ip("-n", farm, "rule", "show").stdout.split(separator: "\n").map(String.init)
    }

    func proxyPid(_ modem: String) -> Int32? {
        (try? String(contentsOfFile: "\(state)/proxies/\(modem).pid", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Processes in the farm namespace running a proxy config of this lab, by config file name.
    func proxyProcesses() throws -> [String: [Int32]] {
        let pids = try Subprocess.ip("netns", "pids", farm).stdout.split(separator: "\n").compactMap { Int32($0) }
        var found: [String: [Int32]] = [:]
        for pid in pids {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let config = arguments.first(where: { $0.hasPrefix(state + "/proxies/") && $0.hasSuffix(".cfg") }) else { continue }
            found[((config as NSString).lastPathComponent as NSString).deletingPathExtension, default: []].append(pid)
        }
        return found
    }
}

extension Subprocess {
    static func which(_ tool: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return path.split(separator: ":").map { "\($0)/\(tool)" }.first { access($0, X_OK) == 0 }
    }
}
