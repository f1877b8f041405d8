import Drivers
import Foundation
import Reconciler

/// The files of one lab directory that the lab host and `lab run` share.
struct LabFiles {
    let directory: String

    var hostPid: String { directory + "/labhost.pid" }
    var hostLog: String { directory + "/labhost.log" }
    var controlSocket: String { directory + "/control.sock" }
    /// The testbed's root: `UMOCKDEV_DIR` for every process that must see the lab's modems.
    var umockdevDirectory: String { directory + "/umockdev-dir" }
    var farmFile: String { directory + "/farm.yaml" }
    var stateDirectory: String { directory + "/state" }
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

    /// The testbed root the running host wrote, nil when no host is up.
    func testbedRoot() -> String? {
        (try? String(contentsOfFile: umockdevDirectory, encoding: .utf8))
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The environment that makes a process see the testbed's /sys and /dev.
    func umockdevEnvironment() throws(LabError) -> [String: String] {
        guard let root = testbedRoot() else {
            throw .io(operation: "read", path: umockdevDirectory, detail: "no lab host is running: run `reconcile lab up` first")
        }
        return ["LD_PRELOAD": "libumockdev-preload.so.0", "UMOCKDEV_DIR": root]
    }
}

/// Starts and stops the lab host (`reconcile lab host` under `umockdev-wrapper`), detached in its
/// own session so that it outlives `lab up`.
struct LabHostProcess {
    let files: LabFiles
    let name: String

    /// Starts the host unless ours runs already (then modems are plugged or unplugged to match
    /// `modems`, from the count it had: `previous`); returns its pid once the modems are plugged.
    func start(modems: Int, previous: Int?) throws(LabError) -> Int32 {
        if let pid = runningPid() {
            // A modem already in the wanted state is answered with an error that changes nothing.
            for number in 1...max(modems, previous ?? modems) {
                _ = try ControlSocket.send(number <= modems ? "plug \(number)" : "unplug \(number)", to: files.controlSocket)
            }
            return pid
        }
        let wrapper = try CommandRunner.locate("umockdev-wrapper")
        let me: String
        do {
            me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        } catch {
            throw .io(operation: "resolve", path: "/proc/self/exe", detail: error.localizedDescription)
        }
        try? FileManager.default.removeItem(atPath: files.umockdevDirectory)
        let pid: Int32
        do {
            pid = try ProxySpawner.spawn([wrapper, me, "lab", "host", "--name", name, "--dir", files.directory, "--modems", String(modems)],
                                         outputPath: files.hostLog)
        } catch {
            throw .hostDidNotStart(log: error.message)
        }
        try LabFiles.write("\(pid)\n", to: files.hostPid)
        let deadline = ContinuousClock.now + .seconds(15)
        while files.testbedRoot() == nil {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == 0, ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                throw .hostDidNotStart(log: (try? String(contentsOfFile: files.hostLog, encoding: .utf8)) ?? "")
            }
            usleep(10_000)
        }
        return pid
    }

    /// Stops our host (it removes its testbed) and its files.
    func stop() -> [String] {
        var removed: [String] = []
        if let pid = runningPid() {
            ProcessStopper.stop([pid])
            removed.append("lab host (pid \(pid))")
        }
        // A host that died without its SIGTERM handler left its testbed behind.
        if let root = files.testbedRoot(), (root as NSString).lastPathComponent.hasPrefix("umockdev."),
           (try? FileManager.default.removeItem(atPath: root)) != nil {
            removed.append("umockdev testbed \(root)")
        }
        for path in [files.hostPid, files.hostLog, files.umockdevDirectory, files.controlSocket, files.proxyBinary] {
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
        return arguments.contains("host") && arguments.contains(files.directory) ? pid : nil
    }
}
