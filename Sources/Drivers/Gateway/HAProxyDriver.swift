import Foundation
import Gateway
import Reconciler

/// The gateway's HAProxy (docs/haproxy.md): a master-worker process started with its master CLI
/// (`-S`), reloaded through it without dropping established connections, and asked afterwards
/// whether the reload took (`show proc` counts failed reloads: HAProxy's `reload` answers nothing).
/// Everything lives in one directory: haproxy.cfg, allow.lst, the sockets, the pid file, and a copy
/// of the files last loaded with success (what `observe` reports).
public struct HAProxyDriver: GatewayDriver {
    public let directory: String
    /// The haproxy executable (a name is looked up on PATH).
    public let binary: String

    public init(directory: String, binary: String = "haproxy") {
        self.directory = directory
        self.binary = binary
    }

    public var paths: HAProxyFiles.Paths { .init(allowList: directory + "/allow.lst", adminSocket: directory + "/admin.sock") }
    var configPath: String { directory + "/haproxy.cfg" }
    var masterSocket: String { directory + "/master.sock" }
    var loadedConfig: String { directory + "/loaded/haproxy.cfg" }
    var loadedAllowList: String { directory + "/loaded/allow.lst" }
    /// Time a started or reloaded master may take to show its new worker (docs/haproxy.md: 50–210 ms).
    static let settleTime = Duration.seconds(10)

    public func observe() async throws(GatewayError) -> GatewayObserved {
        let loaded = Self.read(loadedConfig).flatMap { config in Self.read(loadedAllowList).map { HAProxyFiles(config: config, allowList: $0) } }
        guard (try? await masterState()) != nil else { return GatewayObserved(running: false, loaded: loaded) }
        let servers = (try? await UnixSocketClient.exchange("show stat -1 4 -1", at: paths.adminSocket)).map(Self.serverStates) ?? [:]
        return GatewayObserved(running: true, loaded: loaded, servers: servers)
    }

    public func apply(_ action: GatewayAction, files: HAProxyFiles) async throws(GatewayError) {
        try install(files.allowList, at: paths.allowList)
        try install(files.config, at: configPath + ".new")
        let check = try await run([binary, "-c", "-q", "-f", configPath + ".new"])
        guard check.status == 0 else {
            let details = try await run([binary, "-c", "-f", configPath + ".new"])
            throw GatewayError(reason: "ConfigInvalid", message: "haproxy -c refused the configuration: " + Self.alerts(details.stderr))
        }
        guard rename(configPath + ".new", configPath) == 0 else { throw Self.ioError("cannot rename to", configPath) }
        switch action {
        case .start: try await start()
        case .reload: try await reload()
        }
        try install(files.config, at: loadedConfig)
        try install(files.allowList, at: loadedAllowList)
    }

    private func start() async throws(GatewayError) {
        let started = try await run([binary, "-W", "-D", "-S", masterSocket, "-p", directory + "/haproxy.pid", "-f", configPath])
        guard started.status == 0 else {
            throw GatewayError(reason: "StartFailed", message: "haproxy exited with \(started.status): " + Self.alerts(started.stderr))
        }
        let deadline = ContinuousClock.now + Self.settleTime
        while ContinuousClock.now < deadline {
            if let state = try? await masterState(), state.workers > 0 { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        throw GatewayError(reason: "StartFailed", message: "haproxy's master showed no worker within \(Self.settleTime)")
    }

    /// `reload` on the master CLI; the master re-executes itself (its CLI refuses connections
    /// meanwhile), then counts the reload, failed or not.
    private func reload() async throws(GatewayError) {
        let before = try await masterState()
        _ = try await UnixSocketClient.exchange("reload", at: masterSocket)
        let deadline = ContinuousClock.now + Self.settleTime
        while ContinuousClock.now < deadline {
            if let now = try? await masterState(), now.reloads > before.reloads || now.failed > before.failed {
                guard now.failed == before.failed else {
                    throw GatewayError(reason: "ReloadFailed",
                                       message: "haproxy's master refused the new configuration (show proc: failed \(now.failed)); the previous one keeps serving")
                }
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        throw GatewayError(reason: "ReloadFailed", message: "haproxy's master did not report the reload within \(Self.settleTime)")
    }

    /// The master's line of `show proc`: `17118  master  1 [failed: 0]  0d00h00m06s  2.6.12`, and its current workers.
    struct MasterState: Equatable {
        var reloads: Int
        var failed: Int
        var workers: Int
    }

    func masterState() async throws(GatewayError) -> MasterState {
        let answer = try await UnixSocketClient.exchange("show proc", at: masterSocket)
        guard let state = Self.parseShowProc(answer) else {
            throw GatewayError(reason: "GatewayIOError", message: "unexpected answer to show proc: \(answer.prefix(200))")
        }
        return state
    }

    static func parseShowProc(_ text: String) -> MasterState? {
        var master: MasterState?
        var section = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") {
                section = String(line)
                continue
            }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 5, fields[1] == "master", let reloads = Int(fields[2]), fields[3] == "[failed:",
               let failed = Int(fields[4].dropLast()) {
                master = MasterState(reloads: reloads, failed: failed, workers: 0)
            } else if fields.count >= 2, fields[1] == "worker", section == "# workers" {
                master?.workers += 1
            }
        }
        return master
    }

    /// Server states from `show stat` CSV: backend name → `UP`, `DOWN`, `MAINT`… (`UP 1/2` → `UP`).
    static func serverStates(_ csv: String) -> [String: String] {
        let lines = csv.split(separator: "\n")
        guard let header = lines.first?.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false),
              let statusColumn = header.firstIndex(of: "status") else { return [:] }
        var states: [String: String] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count > statusColumn, fields[1] != "BACKEND", fields[1] != "FRONTEND" else { continue }
            states[String(fields[0])] = String(fields[statusColumn].split(separator: " ").first ?? "")
        }
        return states
    }

    private func run(_ arguments: [String]) async throws(GatewayError) -> ToolOutput {
        do {
            return try await NetworkToolRunner.run(arguments, timeout: .seconds(30))
        } catch {
            throw GatewayError(reason: "GatewayIOError", message: "cannot run \(arguments.joined(separator: " ")): \(error.message)")
        }
    }

    private func install(_ text: String, at path: String) throws(GatewayError) {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(Data(text.utf8), to: path, mode: 0o600)
        } catch let error as StateError {
            throw GatewayError(reason: "GatewayIOError", message: error.message)
        } catch {
            throw Self.ioError("cannot create the directory of", path)
        }
    }

    /// HAProxy's `[ALERT]` lines, which name the file and line of each problem.
    static func alerts(_ stderr: String) -> String {
        let alerts = stderr.split(separator: "\n").filter { $0.contains("[ALERT]") }
        return (alerts.isEmpty ? stderr.split(separator: "\n").map(String.init) : alerts.map(String.init)).joined(separator: "; ")
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func ioError(_ what: String, _ path: String) -> GatewayError {
        GatewayError(reason: "GatewayIOError", message: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
