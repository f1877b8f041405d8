import Foundation
import Reconciler

/// What a finished tool run printed.
struct ToolOutput: Sendable {
    var status: Int32
    var stdout: Data
    var stderr: String
}

/// Runs `ip` (or another tool) to completion off Swift's cooperative threads: a blocking wait
/// there would stall unrelated tasks. Both output pipes are drained on their own threads so a
/// large dump can never block on a full pipe; the timeout ends the tool with SIGKILL.
enum NetworkToolRunner {
    static func run(_ arguments: [String], input: String? = nil, timeout: Duration) async throws(NetworkError) -> ToolOutput {
        let result: Result<ToolOutput, NetworkError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: runBlocking(arguments, input: input, timeout: timeout))
            }
        }
        return try result.get()
    }

    private static func runBlocking(_ arguments: [String], input: String?, timeout: Duration) -> Result<ToolOutput, NetworkError> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        do {
            try process.run()
        } catch {
            return .failure(.toolMissing(tool: arguments.first ?? "", detail: "\(error)"))
        }
        let collected = CollectedToolOutput()
        let drained = DispatchGroup()
        for (index, pipe) in [stdoutPipe, stderrPipe].enumerated() {
            drained.enter()
            Thread.detachNewThread {
                collected.store(pipe.fileHandleForReading.readDataToEndOfFile(), at: index)
                drained.leave()
            }
        }
        if let input { try? stdinPipe.fileHandleForWriting.write(contentsOf: Data(input.utf8)) }
        try? stdinPipe.fileHandleForWriting.close()

        let pid = process.processIdentifier
        let killer = DispatchWorkItem {
            collected.markTimedOut()
            kill(pid, SIGKILL)
        }
        let (seconds, attoseconds) = timeout.components
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: killer)
        drained.wait()
        process.waitUntilExit()
        killer.cancel()
        if collected.timedOut {
            return .failure(.timeout(command: arguments.joined(separator: " "), after: timeout))
        }
        return .success(ToolOutput(status: process.terminationStatus, stdout: collected.data[0],
                                   stderr: String(decoding: collected.data[1], as: UTF8.self)))
    }
}

private final class CollectedToolOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = [Data(), Data()]
    private var expired = false

    var data: [Data] { lock.withLock { storage } }
    var timedOut: Bool { lock.withLock { expired } }
    func store(_ bytes: Data, at index: Int) { lock.withLock { storage[index] = bytes } }
    func markTimedOut() { lock.withLock { expired = true } }
}
