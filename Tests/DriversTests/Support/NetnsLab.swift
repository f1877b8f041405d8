import Foundation
import Synchronization
@testable import Drivers

/// A farm on the real kernel, built from network namespaces (see shared/docs/lab.md):
///
/// - `farm` — the proxy host. Modem N is a veth `wwanN` (left down, no address: the reconciler
///   sets both) whose peer `carrierN` sits in `inet` with `100.64.N.1/24`, so the pool
///   `100.64.N.0/24` is routed back through that modem. `eth0` is the host's own uplink,
///   `192.0.2.2/24` with the main table's default via `192.0.2.1`: a request that should leave
///   through a modem but is seen from `192.0.2.2` leaked.
/// - `inet` — the internet: `198.51.100.10` on its loopback runs `LabServers` (HTTP on 80,
///   UDP on 53), answering every client with its source address.
///
/// Names carry a per-run prefix so parallel test runs never collide. Use `NetnsLab.with` so the
/// namespaces and the server are removed whatever the test does; the server also exits on its
/// own when the test process dies, and namespaces of dead runs are removed by the next run.
///
/// ```swift
/// @Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
/// struct MyTests {
///     @Test func egress() async throws {
///         try await NetnsLab.with(modems: 3) { lab in
///             // route the farm (IPRouteNetworkControl(namespace: lab.farm)), start things in it…
///             let answer = try lab.httpGet(from: lab.farm, uid: 20002)   // curl as uid 20002
///             #expect(answer.stdout == lab.address(2) + "\n")
///             #expect(!lab.seenSources().contains("http \(NetnsLab.uplinkAddress)"))
///         }
///     }
/// }
/// ```
final class NetnsLab: @unchecked Sendable {
    static let serverAddress = "198.51.100.10"
    static let httpPort = 80
    static let udpPort = 53
    static let uplinkAddress = "192.0.2.2"
    static let uplinkGateway = "192.0.2.1"
    /// The system python: pyenv shims under /root are not reachable for unprivileged uids.
    static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    /// Lab tests run as root; in CI they also run without root, so that they fail instead of skipping.
    static let canRun = getuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"

    /// Unique per lab in this process: `pf<pid>n<k>`.
    let prefix: String
    /// Namespace of the proxy host.
    let farm: String
    /// Namespace of the internet side.
    let inet: String
    /// Modems are numbered 1...modems.
    let modems: Int
    /// Scratch directory for the servers' script and logs; removed on teardown.
    let directory: URL
    /// The servers' pid in `inet`, and our end of their stdout: kept open while they run, since
    /// a write to a closed end would end them with EPIPE.
    private let server: (pid: pid_t, output: Int32)

    private static let labsCreated = Atomic<Int>(0)

    /// Builds a lab, runs `body`, and tears the lab down whether `body` returns or throws.
    static func with<T>(modems: Int, _ body: (NetnsLab) async throws -> T) async throws -> T {
        let lab = try start(modems: modems)
        defer { lab.tearDown() }
        return try await body(lab)
    }

    static func start(modems: Int) throws -> NetnsLab {
        guard getuid() == 0 else { throw LabError("network namespace tests need root (CI runs as root)") }
        _ = staleLabsRemoved
        let k = labsCreated.wrappingAdd(1, ordering: .relaxed).newValue
        let prefix = "pf\(getpid())n\(k)"
        let farm = prefix + "farm", inet = prefix + "inet"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(prefix + "-lab")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try buildNamespaces(farm: farm, inet: inet, modems: modems)
            let server = try startServers(in: inet, directory: directory)
            return NetnsLab(prefix: prefix, farm: farm, inet: inet, modems: modems, directory: directory, server: server)
        } catch {
            removeNamespaces(farm: farm, inet: inet, directory: directory)
            throw error
        }
    }

    private init(prefix: String, farm: String, inet: String, modems: Int, directory: URL, server: (pid: pid_t, output: Int32)) {
        self.prefix = prefix
        self.farm = farm
        self.inet = inet
        self.modems = modems
        self.directory = directory
        self.server = server
    }

    /// Stops the servers and deletes both namespaces (their interfaces go with them). SIGKILL,
    /// because a child inherits the blocked signals of the thread that spawned it.
    func tearDown() {
        Self.stop(server.pid)
        close(server.output)
        Self.removeNamespaces(farm: farm, inet: inet, directory: directory)
    }

    // MARK: Addresses of modem N

    func modemInterface(_ n: Int) -> String { "wwan\(n)" }
    func carrierInterface(_ n: Int) -> String { "carrier\(n)" }
    /// The pool `inet` routes to modem N.
    func pool(_ n: Int) -> String { "100.64.\(n).0/24" }
    /// The carrier's side of modem N: the gateway a real network would report.
    func gateway(_ n: Int) -> String { "100.64.\(n).1" }
    /// An address for modem N from its pool, e.g. `address(2, host: 7)` = `100.64.2.7`.
    func address(_ n: Int, host: Int = 2) -> String { "100.64.\(n).\(host)" }

    // MARK: Running things in the lab

    /// `ip netns exec NS [setpriv --reuid U --regid U --clear-groups] ARGS…`
    func command(in namespace: String, uid: UInt32? = nil, _ arguments: [String]) -> [String] {
        var full = ["ip", "netns", "exec", namespace]
        if let uid { full += ["setpriv", "--reuid", "\(uid)", "--regid", "\(uid)", "--clear-groups"] }
        return full + arguments
    }

    /// Waited for on a thread of its own (`onOwnThread`): a client that is refused waits out its
    /// timeout, and the tests beside it need the cooperative pool meanwhile.
    func run(in namespace: String, uid: UInt32? = nil, _ arguments: [String], input: String? = nil,
             timeout: Duration = .seconds(20)) async throws -> CommandOutput {
        let command = command(in: namespace, uid: uid, arguments)
        return try await onOwnThread { try LabCommand.run(command, input: input, timeout: timeout) }
    }

    /// Polls `ss` in `namespace` until something listens on TCP `port`; its `ss -e` line.
    @discardableResult
    func waitUntilListening(in namespace: String, port: Int) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            let listening = try await run(in: namespace, ["ss", "-Hltne", "sport = :\(port)"]).stdout
            if !listening.isEmpty { return listening }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw LabError("nothing listened on port \(port) within 5 s")
    }

    /// `ip -n NS ARGS…`, throwing on failure.
    @discardableResult
    func ip(_ namespace: String, _ arguments: String...) throws -> String {
        try LabCommand.check(["ip", "-n", namespace] + arguments)
    }

    /// `ip -json` output of `ip -n NS ARGS…`, decoded.
    func ipJSON(_ namespace: String, _ arguments: String...) throws -> [[String: any Sendable]] {
        let text = try LabCommand.check(["ip", "-n", namespace, "-json"] + arguments)
        guard let objects = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: any Sendable]] else {
            throw LabError("ip -json \(arguments.joined(separator: " ")) printed no JSON list: \(text)")
        }
        return objects
    }

    /// An HTTP GET of `path` on the lab server with curl, from `namespace` as `uid`.
    func httpGet(from namespace: String, uid: UInt32? = nil, path: String = "/", timeout: Duration = .seconds(3)) async throws -> CommandOutput {
        let seconds = String(format: "%.1f", timeout.timeInterval)
        return try await run(in: namespace, uid: uid, ["curl", "-sS", "--max-time", seconds,
                                                 "http://\(Self.serverAddress):\(Self.httpPort)\(path)"],
                       timeout: timeout + .seconds(5))
    }

    /// One datagram to the UDP responder from `namespace` as `uid`; stdout is the source it saw.
    func udpAsk(from namespace: String, uid: UInt32? = nil, timeout: Duration = .seconds(3)) async throws -> CommandOutput {
        try await run(in: namespace, uid: uid, [Self.python, "-c", LabServers.udpClient, Self.serverAddress, "\(Self.udpPort)",
                                          String(format: "%.1f", timeout.timeInterval)],
                timeout: timeout + .seconds(5))
    }

    /// Every source address the servers saw, as `http A` / `udp A` lines, oldest first.
    func seenSources() -> [String] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("seen.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    // MARK: Building and removing

    private static func buildNamespaces(farm: String, inet: String, modems: Int) throws {
        try LabCommand.check(["ip", "netns", "add", farm])
        try LabCommand.check(["ip", "netns", "add", inet])
        var farmSide = [
            "link set lo up",
            "link add eth0 type veth peer name uplink netns \(inet)",
            "address add \(uplinkAddress)/24 dev eth0",
            "link set eth0 up",
        ]
        var inetSide = [
            "link set lo up",
            "address add \(serverAddress)/32 dev lo",
            "address add \(uplinkGateway)/24 dev uplink",
            "link set uplink up",
        ]
        for n in stride(from: 1, through: modems, by: 1) {
            farmSide.append("link add wwan\(n) type veth peer name carrier\(n) netns \(inet)")
            inetSide += ["address add 100.64.\(n).1/24 dev carrier\(n)", "link set carrier\(n) up"]
        }
        farmSide.append("route add default via \(uplinkGateway) dev eth0")
        try LabCommand.check(["ip", "-n", farm, "-batch", "-"], input: farmSide.joined(separator: "\n") + "\n")
        try LabCommand.check(["ip", "-n", inet, "-batch", "-"], input: inetSide.joined(separator: "\n") + "\n")
    }

    /// Spawned with the drivers' posix_spawn (not Foundation's Process, whose pipes and exit
    /// watch are inherited by whatever else the tests spawn meanwhile, so that a teardown would
    /// wait for those). The first line on stdout says the servers listen.
    private static func startServers(in inet: String, directory: URL) throws -> (pid: pid_t, output: Int32) {
        let script = directory.appendingPathComponent("servers.py")
        try LabServers.script.write(to: script, atomically: true, encoding: .utf8)
        let errors = directory.appendingPathComponent("servers.err")
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let errorLog = open(errors.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        var ends: [Int32] = [-1, -1]
        let paired = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0
        defer { [input, errorLog, ends[1]].filter { $0 >= 0 }.forEach { close($0) } }
        guard input >= 0, errorLog >= 0, paired else {
            if ends[0] >= 0 { close(ends[0]) }
            throw LabError("cannot set up the lab servers' streams: errno \(errno)")
        }
        let arguments = ["ip", "netns", "exec", inet, python, script.path, serverAddress, "\(httpPort)", "\(udpPort)",
                         directory.appendingPathComponent("seen.log").path]
        guard case .success(let pid) = NetworkToolRunner.spawn(arguments, standardStreams: [input, ends[1], errorLog]) else {
            close(ends[0])
            throw LabError("cannot start the lab servers")
        }
        var ready = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        var line = [UInt8](repeating: 0, count: 16)
        let count = poll(&ready, 1, 10_000) == 1 ? read(ends[0], &line, line.count) : 0
        guard count > 0, String(decoding: line[..<count], as: UTF8.self).hasPrefix("ready") else {
            stop(pid)
            close(ends[0])
            let why = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw LabError("lab servers did not start in \(inet): \(why)")
        }
        return (pid, ends[0])
    }

    private static func stop(_ pid: pid_t) {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
    /// Namespaces of labs whose test process died (SIGKILL skips teardown), removed once per run.
    private static let staleLabsRemoved: Bool = {
        let listed = (try? LabCommand.check(["ip", "netns", "list"])) ?? ""
        for line in listed.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard let match = name.wholeMatch(of: /pf(\d+)n\d+(farm|inet)/), let pid = Int32(match.1),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            _ = try? LabCommand.run(["ip", "netns", "del", name])
        }
        return true
    }()

    private static func removeNamespaces(farm: String, inet: String, directory: URL) {
        for namespace in [farm, inet] {
            _ = try? LabCommand.run(["ip", "netns", "del", namespace])
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
