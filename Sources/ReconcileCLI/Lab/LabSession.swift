import Foundation

/// A lab driven from one process (the demo, and anyone scripting a lab): up, reconciler runs,
/// requests through a modem's proxy, down. Children inherit stdout; their stderr (the
/// reconciler's log) goes to `log` when given.
struct LabSession {
    let lab: LabOptions
    let proxyBinary: String?
    var log: FileHandle?

    var farm: LabFarm { LabFarm(files: lab.files) }

    func up(modems: Int) throws {
        try run(["lab", "up", "--modems", String(modems)] + labArguments, acceptingStatus: [0])
    }

    func down() {
        _ = try? run(["lab", "down"] + labArguments, acceptingStatus: [0])
    }

    /// `reconcile ARGUMENTS` inside the lab; returns its exit status.
    @discardableResult
    func reconcile(_ arguments: [String], acceptingStatus accepted: Set<Int32>) throws -> Int32 {
        let proxy = proxyBinary.map { ["--proxy-binary", $0] } ?? []
        return try run(["lab", "run"] + labArguments + proxy + ["--"] + arguments, acceptingStatus: accepted)
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
    /// The credentials go to curl on stdin, never on a command line.
    func egress(modem: Int) throws -> String {
        let topology = try LabTopology(name: lab.name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CommandRunner.locate("ip"))
        process.arguments = ["netns", "exec", topology.farmNamespace, "curl", "-fsS", "-m", "5", "-K", "-",
                             "-x", "http://127.0.0.1:\(LabFarm.httpPort(modem))", "http://\(LabTopology.serverAddress)/"]
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
        if let log { process.standardError = log }
        fflush(nil)
        try process.run()
        process.waitUntilExit()
        guard accepted.contains(process.terminationStatus) else {
            throw LabError.commandFailed(command: "reconcile " + arguments.joined(separator: " "), status: process.terminationStatus, output: "")
        }
        return process.terminationStatus
    }
}
