import ArgumentParser
import Foundation

/// `reconcile lab demo`: the whole thing in under a minute — a lab (3 modems unless told), the plan, one pass,
/// the status table, each modem's egress IP through its own proxy, one rotation, and the lab
/// taken down again whatever happened.
struct LabDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Show ProxyFarm end to end in a throwaway lab of simulated modems (root).",
        discussion: LabProxyOption.discussion
            + "\n--output json (with --hosts): stdout carries only {\"modems\": [{name, host, entry: {http, socks}, egress}]}.")

    @Option(help: "Prefix of the demo lab's network namespaces.")
    var name = "pfdemo"

    @Option(help: "Number of simulated modems (1-\(LabTopology.maximumModems)), per host with --hosts.")
    var modems = 3

    @Option(help: "Show a multi-host farm: this many hosts and a gateway; a customer reaches every modem through its entry ports.")
    var hosts: Int?

    @OptionGroup var proxy: LabProxyOption

    func run() async throws {
        _ = try LabTopology(name: name, modems: modems, hosts: hosts)
        // `--output` is the root's option, read like --proxy-binary (LabProxyOption).
        let json = proxy.root.output == .json
        guard !json || hosts != nil else { throw ValidationError("--output json goes with --hosts") }
        let options = try LabOptions.parse(["--name", name, "--dir", NSTemporaryDirectory() + "proxyfarm-demo-\(getpid())"])
        try options.requireRoot("lab demo")
        let (chosenProxy, note) = try LabReconciler.proxy(proxy.requested)
        let logPath = NSTemporaryDirectory() + "proxyfarm-demo-\(getpid()).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw LabError.io(operation: "create", path: logPath, detail: "cannot create the reconciler log")
        }
        // With --output json, stdout carries the JSON alone: the story goes to stderr, the children's output to the log.
        let say: (String) -> Void = json ? { printError($0) } : { print($0) }
        say("\(note)\nreconciler log (actions, stderr): \(logPath)\n")
        let session = LabSession(lab: options, proxyBinary: chosenProxy, log: log, quiet: json)
        let interruption = Self.tearDownOnInterrupt(session)
        defer {
            say("\n== tearing the lab down")
            session.down()
            withExtendedLifetime(interruption) {}
        }
        do {
            if let hosts {
                try Self.demo(session, hosts: hosts, modems: modems, json: json, say: say)
            } else {
                try await Self.demo(session, modems: modems)
            }
        } catch {
            let tail = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").suffix(20)
            say("\n== the demo failed; the reconciler log ends with:\n" + tail.joined(separator: "\n"))
            throw error
        }
    }

    /// What `lab demo --hosts H --output json` prints.
    struct Egress: Encodable {
        struct Entry: Encodable { var http, socks: Int }
        var name, host: String
        var entry: Entry
        /// What the what-is-my-IP server saw through the gateway's HTTP entry port.
        var egress: String
    }

    /// The multi-host farm: hosts converge by their own daemons, the gateway puts every modem in
    /// service, and a customer on the internet side goes through each HTTP entry port.
    private static func demo(_ session: LabSession, hosts: Int, modems: Int, json: Bool, say: (String) -> Void) throws {
        say("== building a lab of \(hosts) hosts with \(modems) simulated modems each and an HAProxy gateway")
        try session.up(modems: modems, hosts: hosts)
        say("\n== waiting until every host's daemon has its modems Ready and the gateway has them in service")
        let gateway = try session.gatewayInService(modems: hosts * modems)
        if !json {
            print("\n== every host's modems, as the gateway sees them (reconcile status --farm)")
            _ = try session.reconcile(["status", "--farm"], on: LabTopology.gatewayHostName, acceptingStatus: [0, 3])
            print("\n== egress: a customer at \(LabTopology.customerAddress) through each modem's HTTP entry port on \(LabTopology.gatewayAddress)")
        }
        var rows: [Egress] = []
        for modem in gateway.modems {
            let egress = try session.egress(entryPort: modem.entry.http)
            rows.append(Egress(name: modem.name, host: modem.host, entry: .init(http: modem.entry.http, socks: modem.entry.socks), egress: egress))
            if !json { print("  \(modem.name) (\(modem.host), entry ports \(modem.entry.http)/\(modem.entry.socks)): \(egress)") }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(["modems": rows]), as: UTF8.self))
        }
        let failed = rows.filter { $0.egress.hasPrefix("request failed") }.map(\.name)
        guard failed.isEmpty else {
            throw LabError.commandFailed(command: "curl through the gateway", status: 1, output: "no answer through the entry ports of \(failed.joined(separator: ", "))")
        }
    }

    /// Ctrl-C or SIGTERM also take the lab down before the demo exits.
    private static func tearDownOnInterrupt(_ session: LabSession) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                printError("\n== interrupted: tearing the lab down")
                session.down()
                Glibc.exit(130)
            }
            source.resume()
            return source
        }
    }

    private static func demo(_ session: LabSession, modems: Int) async throws {
        print("== building a lab with \(modems) simulated modems (namespaces \(session.lab.name)-farm, \(session.lab.name)-inet)")
        try session.up(modems: modems)
        print("\n== the plan (reconcile --dry-run)")
        _ = try session.reconcile(["--dry-run"], acceptingStatus: [0, 2])
        print("\n== reconciling")
        try session.converge()
        print("\n== status (reconcile status)")
        _ = try session.reconcile(["status"], acceptingStatus: [0])
        print("\n== egress: an HTTP request through each modem's proxy port, as seen by http://\(LabTopology.serverAddress)/")
        for modem in 1...modems {
            let hardware = LabModemHardware(number: modem)
            print("  \(hardware.name) (proxy port \(LabFarm.httpPort(modem))): \(try session.egress(modem: modem))")
        }
        let rotated = LabModemHardware(number: modems)
        let before = try session.egress(modem: modems)
        print("\n== rotating \(rotated.name) (reconcile rotate \(rotated.name) --now)")
        _ = try session.reconcile(["rotate", rotated.name, "--now"], acceptingStatus: [0])
        let after = try session.egress(modem: modems)
        print("  egress through \(rotated.name)'s proxy now: \(after)" + (before == after ? " (the carrier handed back the same address)" : ""))
    }
}
