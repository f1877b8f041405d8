import ArgumentParser
import Foundation

/// `reconcile lab demo`: the whole thing in under a minute — a lab (3 modems unless told), the plan, one pass,
/// the status table, each modem's egress IP through its own proxy, one rotation, and the lab
/// taken down again whatever happened.
struct LabDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Show ProxyFarm end to end in a throwaway lab of simulated modems (root).",
        discussion: LabProxyOption.discussion)

    @Option(help: "Prefix of the demo lab's network namespaces.")
    var name = "pfdemo"

    @Option(help: "Number of simulated modems (1-\(LabTopology.maximumModems)).")
    var modems = 3

    @OptionGroup var proxy: LabProxyOption

    func run() async throws {
        _ = try LabTopology(name: name, modems: modems)
        let options = try LabOptions.parse(["--name", name, "--dir", NSTemporaryDirectory() + "proxyfarm-demo-\(getpid())"])
        try options.requireRoot("lab demo")
        let (chosenProxy, note) = try LabReconciler.proxy(proxy.requested)
        let logPath = NSTemporaryDirectory() + "proxyfarm-demo-\(getpid()).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw LabError.io(operation: "create", path: logPath, detail: "cannot create the reconciler log")
        }
        print("\(note)\nreconciler log (actions, stderr): \(logPath)\n")
        let session = LabSession(lab: options, proxyBinary: chosenProxy, log: log)
        let interruption = Self.tearDownOnInterrupt(session)
        defer {
            print("\n== tearing the lab down")
            session.down()
            withExtendedLifetime(interruption) {}
        }
        do {
            try await Self.demo(session, modems: modems)
        } catch {
            let tail = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").suffix(20)
            print("\n== the demo failed; the reconciler log ends with:\n" + tail.joined(separator: "\n"))
            throw error
        }
    }

    /// Ctrl-C or SIGTERM also take the lab down before the demo exits.
    private static func tearDownOnInterrupt(_ session: LabSession) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                print("\n== interrupted: tearing the lab down")
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
