import Foundation
import Testing

/// A `reconcile daemon --simulated` running in a scratch farm directory, stopped (SIGTERM) by the
/// test; its stderr (the log) goes to a file the test can read while it runs.
final class DaemonProcess {
    let directory: String
    let process = Process()
    private let logPath: String

    /// Starts the daemon on `directory`/farm.yaml with state in `directory`/state.
    init(in directory: String, extraArguments: [String] = [], environment: [String: String] = [:]) throws {
        self.directory = directory
        logPath = directory + "/daemon.log"
        try #require(FileManager.default.createFile(atPath: logPath, contents: nil))
        process.executableURL = URL(fileURLWithPath: try Subprocess.reconcile)
        process.arguments = ["daemon", "--simulated", "--debounce", "100ms"] + extraArguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = environment.merging(["PATH": "/usr/bin:/bin", "PROXYFARM_FILE": "farm.yaml", "PROXYFARM_STATE": "state"]) { mine, _ in mine }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var state: String { directory + "/state" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// SIGTERM, then the exit status (killed after 10 s so that a hung daemon fails the test, not CI).
    func stop() -> Int32 {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
            return -1
        }
        return process.terminationStatus
    }

    /// status/farm.json as a dictionary, when there is one.
    func farmStatus() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: state + "/status/farm.json") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    func modemStatus(_ name: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: state + "/status/modems/\(name).json") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// The number of modems in a phase, from farm.json.
    func count(_ phase: String) -> Int { (farmStatus()?["phases"] as? [String: Int])?[phase] ?? -1 }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: TimeInterval = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// Writes a file the way an editor saves: a temp file renamed over the original.
func saveByRename(_ text: String, to path: String) throws {
    let temp = path + ".swp-\(UUID().uuidString.prefix(6))"
    try text.write(toFile: temp, atomically: false, encoding: .utf8)
    guard rename(temp, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
}

/// A stand-in for systemd's notify socket: a python3 process bound to an abstract unix datagram
/// socket that writes every notification it receives as one line (newlines shown as `|`).
final class NotifySocket {
    let address = "@pf\(getpid())-notify-\(UUID().uuidString.prefix(8))"
    private let process = Process()
    private let path = NSTemporaryDirectory() + "pf\(getpid())-notify-\(UUID().uuidString.prefix(8)).log"

    init() throws {
        try #require(FileManager.default.createFile(atPath: path, contents: nil))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind("\\0" + sys.argv[1])
            print("bound", flush=True)
            while True:
                print(s.recv(4096).decode().replace("\\n", "|"), flush=True)
            """, String(address.dropFirst())]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try process.run()
        try #require(eventually { lines.first == "bound" }, "python3 could not bind \(address)")
    }

    var lines: [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// SIGKILL: a child of Foundation's `Process` may inherit blocked signals and ignore SIGTERM.
    func close() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
}
