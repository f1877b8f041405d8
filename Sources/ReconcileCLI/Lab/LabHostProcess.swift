import Drivers
import Foundation
import Reconciler

/// The files of one lab directory that the lab host and `lab run` share. The farm (farm.yaml,
/// secrets) is the lab's; a farm host's files (its lab host, its state) are in the lab directory
/// for the one-host lab and in `<dir>/<host>/` for the hosts of a multi-host lab.
struct LabFiles {
    let directory: String
    /// The farm host (`host-K`) or `gateway` of a multi-host lab; nil for the one host.
    var host: String? = nil

    var hostDirectory: String { host.map { directory + "/" + $0 } ?? directory }
    var hostPid: String { hostDirectory + "/labhost.pid" }
    var hostLog: String { hostDirectory + "/labhost.log" }
    var controlSocket: String { hostDirectory + "/control.sock" }
    /// Written by the host once its modems are plugged and it takes commands.
    var hostReady: String { hostDirectory + "/labhost.ready" }
    var farmFile: String { directory + "/farm.yaml" }
    var stateDirectory: String { hostDirectory + "/state" }
    /// Logs of the processes a multi-host lab keeps running on the host (daemon, serve, gateway daemon).
    func log(_ process: String) -> String { hostDirectory + "/\(process).log" }
    /// The proxy `lab up` chose (or was given) for `lab run`.
    var proxyBinary: String { directory + "/proxy-binary" }

    /// Writes a whole file (temp file, fsync, rename).
    static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(LabError) {
        do {
            _ = try AtomicFile.write(Data(text.utf8), to: path, mode: mode)
        } catch {
            throw .io(operation: "write", path: path, detail: error.message)
        }
    }
}

/// Starts and stops the lab host (`reconcile lab host` in the farm's network namespace and a mount
/// namespace of its own, both made by `ip netns exec`), detached in its own session so that it
/// outlives `lab up`.
struct LabHostProcess {
    let files: LabFiles
    /// The farm host's network namespace.
    let namespace: String

    /// Starts the host unless ours runs already (then modems are plugged or unplugged to match
    /// `modems`, from the ones it had: `previous`); returns its pid once the modems are plugged.
    func start(modems: [Int], previous: [Int]?) throws(LabError) -> Int32 {
        if let pid = runningPid() {
            // A modem already in the wanted state is answered with an error that changes nothing.
            for number in Set(modems + (previous ?? [])).sorted() {
                _ = try ControlSocket.send(modems.contains(number) ? "plug \(number)" : "unplug \(number)", to: files.controlSocket)
            }
            return pid
        }
        let ip = try CommandRunner.locate("ip")
        let me: String
        do {
            me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        } catch {
            throw .io(operation: "resolve", path: "/proc/self/exe", detail: error.localizedDescription)
        }
        try? FileManager.default.removeItem(atPath: files.hostReady)
        let pid: Int32
        do {
            try FileManager.default.createDirectory(atPath: files.hostDirectory, withIntermediateDirectories: true)
            pid = try ProxySpawner.spawn([ip, "netns", "exec", namespace, me, "lab", "host", "--dir", files.hostDirectory,
                                          "--modems", modems.map(String.init).joined(separator: ",")],
                                         outputPath: files.hostLog)
        } catch let error as ProxySupervisorError {
            throw .hostDidNotStart(log: error.message)
        } catch {
            throw .io(operation: "create", path: files.hostDirectory, detail: error.localizedDescription)
        }
        try LabFiles.write("\(pid)\n", to: files.hostPid)
        let deadline = ContinuousClock.now + .seconds(15)
        while !FileManager.default.fileExists(atPath: files.hostReady) {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == 0, ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                throw .hostDidNotStart(log: (try? String(contentsOfFile: files.hostLog, encoding: .utf8)) ?? "")
            }
            usleep(10_000)
        }
        return pid
    }

    /// Stops our host (its mounts end with its namespace) and removes its files.
    func stop() -> [String] {
        var removed: [String] = []
        if let pid = runningPid() {
            ProcessStopper.stop([pid])
            removed.append("lab host (pid \(pid))")
        }
        for path in [files.hostPid, files.hostLog, files.hostReady, files.controlSocket, files.proxyBinary] {
            try? FileManager.default.removeItem(atPath: path)
        }
        return removed
    }

    /// The recorded pid, if that process is alive and is our host (never signal a stranger).
    func runningPid() -> Int32? {
        guard let text = try? String(contentsOfFile: files.hostPid, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              ProcessStopper.isAlive(pid),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains("host") && arguments.contains(files.hostDirectory) ? pid : nil
    }
}
