import Drivers
import Foundation

/// What a multi-host lab keeps running, as on a real farm: on every host `reconcile daemon --host
/// host-K` and `reconcile serve` (the gateway's health checks ask its `/healthz`), and on the gateway
/// `reconcile gateway daemon`. Each is `reconcile lab run --host …` detached in its own session, so
/// it runs in its machine's namespaces with the lab's farm; `lab down` stops them with everything
/// else in the lab's namespaces.
struct LabFarmServices {
    let lab: LabOptions
    let topology: LabTopology

    /// One per machine: its name, the command after `lab run … --`, and the log's name.
    var services: [(host: String, arguments: [String], log: String)] {
        topology.farmHosts.flatMap { host -> [(String, [String], String)] in
            let name = host.host ?? ""
            return [(name, ["daemon", "--host", name], "daemon"), (name, ["serve"], "serve")]
        } + [(LabTopology.gatewayHostName, ["gateway", "daemon", "--resync", "2s"], "gateway")]
    }

    /// Starts every service that is not running yet; returns a line for each.
    func start() throws(LabError) -> [String] {
        let me: String
        do {
            me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        } catch {
            throw .io(operation: "resolve", path: "/proc/self/exe", detail: error.localizedDescription)
        }
        var lines: [String] = []
        for service in services {
            let files = LabFiles(directory: lab.directory, host: service.host)
            let pidFile = files.hostDirectory + "/\(service.log).pid"
            if let pid = Self.runningPid(pidFile, command: service.arguments) {
                lines.append("\(service.host): reconcile \(service.arguments.joined(separator: " ")) (pid \(pid), running)")
                continue
            }
            let pid: Int32
            do {
                try FileManager.default.createDirectory(atPath: files.hostDirectory, withIntermediateDirectories: true)
                pid = try ProxySpawner.spawn([me, "lab", "run", "--name", lab.name, "--dir", lab.directory, "--host", service.host, "--"]
                                             + service.arguments, outputPath: files.log(service.log))
            } catch let error as ProxySupervisorError {
                throw .commandFailed(command: "reconcile \(service.arguments.joined(separator: " "))", status: -1, output: error.message)
            } catch {
                throw .io(operation: "create", path: files.hostDirectory, detail: error.localizedDescription)
            }
            try LabFiles.write("\(pid)\n", to: pidFile)
            lines.append("\(service.host): reconcile \(service.arguments.joined(separator: " ")) (pid \(pid), log \(files.log(service.log)))")
        }
        return lines
    }

    /// The recorded pid while that process still runs this service (never a stranger's pid).
    private static func runningPid(_ pidFile: String, command: [String]) -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), ProcessStopper.isAlive(pid),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.suffix(command.count) == ArraySlice(command) ? pid : nil
    }
}
