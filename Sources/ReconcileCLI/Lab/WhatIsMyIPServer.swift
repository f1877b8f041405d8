import Foundation

/// The what-is-my-IP server of one lab: started detached inside the `inet` namespace, with its
/// script, pid file and log in the lab directory.
struct WhatIsMyIPServer {
    let topology: LabTopology
    /// The lab's own directory, e.g. `/run/proxyfarm-lab/pf`.
    let directory: String

    var scriptPath: String { directory + "/" + WhatIsMyIPScript.fileName }
    var pidPath: String { directory + "/" + WhatIsMyIPScript.pidFileName }
    var logPath: String { directory + "/" + WhatIsMyIPScript.logFileName }

    /// Starts the server unless ours is already running; returns its pid.
    func start() throws(LabError) -> Int32 {
        if let pid = runningPid() { return pid }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(WhatIsMyIPScript.source.utf8).write(to: URL(fileURLWithPath: scriptPath), options: .atomic)
        } catch {
            throw .io(operation: "write", path: scriptPath, detail: error.localizedDescription)
        }
        let python = try CommandRunner.locate("python3")
        do {
            try CommandRunner.run("ip", ["netns", "exec", topology.internetNamespace, python, scriptPath,
                                         LabTopology.serverAddress, String(LabTopology.serverPort), pidPath, logPath])
        } catch {
            throw .serverDidNotStart(log: error.message)
        }
        guard let pid = runningPid() else {
            throw .serverDidNotStart(log: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
        }
        return pid
    }

    /// Stops our server and removes the files `start` made; the directory goes too when empty.
    func stop() -> [String] {
        var removed: [String] = []
        if let pid = runningPid() {
            ProcessStopper.stop([pid])
            removed.append("what-is-my-IP server (pid \(pid))")
        }
        for path in [pidPath, scriptPath, logPath, pidPath + ".tmp"] {
            try? FileManager.default.removeItem(atPath: path)
        }
        if rmdir(directory) == 0 { removed.append("directory \(directory)") }
        return removed
    }

    /// The recorded pid, if that process is alive and still runs our script (never signal a
    /// stranger that inherited a stale pid).
    func runningPid() -> Int32? {
        guard let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              ProcessStopper.isAlive(pid),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains(scriptPath) ? pid : nil
    }
}
