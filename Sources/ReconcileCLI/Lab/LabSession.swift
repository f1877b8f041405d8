import Foundation
import Gateway

/// A lab driven from one process (the demo, and anyone scripting a lab): up, reconciler runs,
/// requests through a modem's proxy or the gateway's entry ports, down. Children inherit stdout
/// unless `quiet` (then it goes to `log` too); their stderr (the reconciler's log) goes to `log` when given.
struct LabSession {
    let lab: LabOptions
    let proxyBinary: String?
    var log: FileHandle?
    var quiet = false

    var farm: LabFarm { LabFarm(files: lab.files) }

    func up(modems: Int, hosts: Int? = nil) throws {
        try run(["lab", "up", "--modems", String(modems)] + (hosts.map { ["--hosts", String($0)] } ?? []) + labArguments
                + (proxyBinary.map { ["--proxy-binary", $0] } ?? []), acceptingStatus: [0])
    }

    func down() {
        _ = try? run(["lab", "down"] + labArguments, acceptingStatus: [0])
    }

    /// `reconcile ARGUMENTS` inside the lab (on `host` of a multi-host lab); returns its exit status.
    @discardableResult
    func reconcile(_ arguments: [String], on host: String? = nil, acceptingStatus accepted: Set<Int32>) throws -> Int32 {
        let proxy = proxyBinary.map { ["--proxy-binary", $0] } ?? []
        return try run(["lab", "run"] + labArguments + (host.map { ["--host", $0] } ?? []) + proxy + ["--"] + arguments, acceptingStatus: accepted)
    }

    /// The gateway's status once every modem of the multi-host lab is in service there.
    func gatewayInService(modems: Int, timeout: Duration = .seconds(120)) throws -> GatewayStatus {
        let store = try GatewayStore(root: LabFarm(files: LabFiles(directory: lab.directory)).gatewayStateDirectory, creating: false)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = try? store.loadStatus(), status.modems.count == modems,
               status.modems.allSatisfy({ !$0.state.isEmpty && $0.state.values.allSatisfy { $0 == "UP" } }) {
                return status
            }
            guard ContinuousClock.now < deadline else {
                throw LabError.commandFailed(command: "reconcile gateway daemon", status: 1,
                                             output: "not every modem was in service at the gateway within \(timeout)")
            }
            usleep(200_000)
        }
    }

    /// Passes until one converges (a modem can need a second pass, e.g. after a rotation).
    func converge(passes: Int = 3) throws {
        for pass in 1...passes {
            if try reconcile([], acceptingStatus: [0, 1, 3]) == 0 { return }
            guard pass < passes else { break }
            print("(not converged yet: another pass)")
        }
        throw LabError.commandFailed(command: "reconcile (\(passes) passes)", status: 1, output: "the lab farm did not converge")
    }

    /// The address the what-is-my-IP server saw for a request through the modem's HTTP proxy.
    func egress(modem: Int) throws -> String {
        try egress(namespace: try LabTopology(name: lab.name).farmNamespace, proxy: "http://127.0.0.1:\(LabFarm.httpPort(modem))")
    }

    /// The same for a customer on the internet side through a gateway's HTTP entry port.
    func egress(entryPort: Int) throws -> String {
        try egress(namespace: try LabTopology(name: lab.name).internetNamespace, proxy: "http://\(LabTopology.gatewayAddress):\(entryPort)",
                   from: LabTopology.customerAddress)
    }

    /// The credentials go to curl on stdin, never on a command line.
    private func egress(namespace: String, proxy: String, from source: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CommandRunner.locate("ip"))
        process.arguments = ["netns", "exec", namespace, "curl", "-fsS", "-m", "5", "-K", "-"]
            + (source.map { ["--interface", $0] } ?? []) + ["-x", proxy, "http://\(LabTopology.serverAddress)/"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = log ?? FileHandle.standardError
        try process.run()
        input.fileHandleForWriting.write(Data("proxy-user = \"\(LabFarm.user):\(try farm.password())\"\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return "request failed (curl status \(process.terminationStatus))" }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private var labArguments: [String] { ["--name", lab.name, "--dir", lab.directory] }

    @discardableResult
    private func run(_ arguments: [String], acceptingStatus accepted: Set<Int32>) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        if let log {
            process.standardError = log
            if quiet { process.standardOutput = log }
        }
        fflush(nil)
        try process.run()
        process.waitUntilExit()
        guard accepted.contains(process.terminationStatus) else {
            throw LabError.commandFailed(command: "reconcile " + arguments.joined(separator: " "), status: process.terminationStatus, output: "")
        }
        return process.terminationStatus
    }
}
