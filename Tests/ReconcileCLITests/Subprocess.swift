import Foundation
import Testing

/// The result of running a program to its end.
struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Subprocess {
    /// How a command run in a repository checkout finds its farm: farm.yaml and state/ there.
    static let checkout = ["PROXYFARM_FILE": "farm.yaml", "PROXYFARM_STATE": "state"]

    /// The `reconcile` executable SwiftPM built next to this test bundle.
    static var reconcile: String {
        get throws {
            let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let path = URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("reconcile").path
            try #require(FileManager.default.isExecutableFile(atPath: path), "no reconcile binary at \(path): run `swift build` first")
            return path
        }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
                    environment: [String: String] = [:]) throws -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var variables = environment
        if let directory {
            // Run in a directory as in a repository checkout: farm.yaml and state/ there.
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            variables = checkout.merging(variables) { _, given in given }
        }
        if !variables.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(variables) { _, new in new } }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pf\(getpid())-\(UUID().uuidString)")
        let outPath = scratch.path + ".out", errPath = scratch.path + ".err"
        try #require(FileManager.default.createFile(atPath: outPath, contents: nil) && FileManager.default.createFile(atPath: errPath, contents: nil))
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        process.waitUntilExit()
        return Finished(status: process.terminationStatus,
                        stdout: try String(contentsOfFile: outPath, encoding: .utf8),
                        stderr: try String(contentsOfFile: errPath, encoding: .utf8))
    }

    /// Waits for a child that was sent a signal, reaping it ourselves: Foundation's
    /// `waitUntilExit` was seen to hang for good on a SIGKILLed child it never reaped.
    /// Returns the signal that ended it, nil when it exited.
    @discardableResult
    static func reap(_ process: Process, within limit: Duration = .seconds(30)) -> Int32? {
        let pid = process.processIdentifier
        let deadline = ContinuousClock.now + limit
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let signal = status & 0x7f
                return signal != 0 && signal != 0x7f ? signal : nil
            }
            if (reaped < 0 && errno == ECHILD) || !process.isRunning {
                // Foundation's own monitor reaped it first, and says how it ended a moment later.
                while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
                return process.isRunning || process.terminationReason != .uncaughtSignal ? nil : process.terminationStatus
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        return SIGKILL
    }

    /// Runs a command inside a network namespace (`ip netns exec`).
    @discardableResult
    static func inNamespace(_ namespace: String, _ arguments: String...) throws -> Finished {
        try run("/usr/bin/env", ["ip", "netns", "exec", namespace] + arguments)
    }

    @discardableResult
    static func ip(_ arguments: String...) throws -> Finished {
        try run("/usr/bin/env", ["ip"] + arguments)
    }
}
