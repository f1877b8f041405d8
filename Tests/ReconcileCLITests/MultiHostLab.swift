import Foundation
import Synchronization
import Testing

/// A multi-host lab (`reconcile lab up --hosts 2`) for the gateway's end-to-end tests: every host
/// runs its daemon and `serve`, the gateway its `gateway daemon`, all started by `lab up`; a
/// customer on the internet side (203.0.113.10) reaches the modems through the gateway's entry ports.
final class MultiHostLab: @unchecked Sendable {
    static let gateway = "192.0.2.200"
    static let customer = "203.0.113.10"
    private static let counter = Atomic<Int>(0)

    let name: String
    let directory: String
    let modemsPerHost: Int

    init(hosts: Int, modemsPerHost: Int) throws {
        try #require(geteuid() == 0, "the multi-host lab needs root")
        for tool in ["nsenter", "curl", "ip", "python3", "haproxy", "git"] {
            try #require(Subprocess.which(tool) != nil, "\(tool) missing: run scripts/install-deps")
        }
        name = "pf\(getpid())m\(Self.counter.add(1, ordering: .relaxed).newValue)"
        directory = NSTemporaryDirectory() + name + "-lab"
        self.modemsPerHost = modemsPerHost
        let up = try lab("up", "--hosts", String(hosts), "--modems", String(modemsPerHost))
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
    }

    func down() {
        _ = try? lab("down")
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    func lab(_ arguments: String...) throws -> Finished {
        try Subprocess.run(try Subprocess.reconcile, ["lab"] + arguments + ["--name", name, "--dir", directory])
    }

    /// `reconcile ARGUMENTS` on a host (`host-K`) or the gateway (`gateway`).
    @discardableResult
    func run(on host: String, _ arguments: String...) throws -> Finished {
        try Subprocess.run(try Subprocess.reconcile, ["lab", "run", "--name", name, "--dir", directory, "--host", host, "--"] + arguments)
    }

    func host(ofModem modem: Int) -> String { "host-\((modem - 1) / modemsPerHost + 1)" }
    static func modemName(_ modem: Int) -> String { modem < 10 ? "m0\(modem)" : "m\(modem)" }

    var farmFile: String { directory + "/farm.yaml" }
    var password: String {
        get throws { try String(contentsOfFile: directory + "/secrets/lab", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// A modem's status file on the host that reconciles it.
    func status(_ modem: Int, on host: String? = nil) -> [String: Any]? {
        let path = "\(directory)/\(host ?? self.host(ofModem: modem))/state/status/modems/\(Self.modemName(modem)).json"
        return FileManager.default.contents(atPath: path).flatMap { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] }
    }

    func phase(_ modem: Int, on host: String? = nil) -> String? { status(modem, on: host)?["phase"] as? String }
    func address(_ modem: Int, on host: String? = nil) -> String? { status(modem, on: host)?["ip"] as? String }

    struct Entry: Equatable {
        var host: String
        var http: Int
        var socks: Int
        var up: Bool
    }

    /// gateway-state/gateway.json: every modem's host, entry ports and whether both are UP.
    func gatewayStatus() -> (revision: String, modems: [String: Entry]) {
        guard let data = FileManager.default.contents(atPath: directory + "/gateway-state/gateway.json"),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return ("", [:]) }
        var modems: [String: Entry] = [:]
        for modem in json["modems"] as? [[String: Any]] ?? [] {
            guard let name = modem["name"] as? String, let entry = modem["entry"] as? [String: Int],
                  let http = entry["http"], let socks = entry["socks"] else { continue }
            let states = (modem["state"] as? [String: String] ?? [:]).values
            modems[name] = Entry(host: modem["host"] as? String ?? "", http: http, socks: socks, up: !states.isEmpty && states.allSatisfy { $0 == "UP" })
        }
        return (json["revision"] as? String ?? "", modems)
    }

    func entry(_ modem: Int) throws -> Entry {
        try #require(gatewayStatus().modems[Self.modemName(modem)], "the gateway shows no \(Self.modemName(modem))")
    }

    /// What the what-is-my-IP server saw for a customer's request through an entry port; nil when refused.
    func throughGateway(port: Int, socks: Bool = false, path: String = "/") throws -> String? {
        let proxy = (socks ? "socks5h" : "http") + "://lab:\(try password)@\(Self.gateway):\(port)"
        let result = try Subprocess.inNamespace(name + "-inet", "curl", "-sS", "-m", "5", "--interface", Self.customer, "-x", proxy,
                                                "http://198.51.100.10\(path)")
        return result.status == 0 ? result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    func log(_ host: String, _ process: String) -> String {
        String(((try? String(contentsOfFile: "\(directory)/\(host)/\(process).log", encoding: .utf8)) ?? "").suffix(3000))
    }

    /// Polls every 100 ms until `condition` holds; records a failure naming `what` after `timeout`.
    func waitUntil(_ what: String, timeout: Duration = .seconds(45), _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what); gateway log:\n\(log("gateway", "gateway"))")
                throw EndToEndLab.TimedOut()
            }
            usleep(100_000)
        }
    }

    /// Every modem Ready on its host, in service in gateway.json, and answering a customer at its HTTP
    /// entry port with its own address (HAProxy counts a server UP before its first check, and
    /// gateway.json is as of the gateway's last pass: only the customer's view is the truth).
    func allInService(_ modems: ClosedRange<Int>) throws -> Bool {
        let gateway = gatewayStatus().modems
        return try modems.allSatisfy { modem in
            guard phase(modem) == "Ready", let entry = gateway[Self.modemName(modem)], entry.up, let own = address(modem) else { return false }
            return try throughGateway(port: entry.http) == own
        }
    }
}
