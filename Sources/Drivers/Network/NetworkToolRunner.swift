import Foundation
import Reconciler
#if canImport(Glibc)
import Glibc
#endif

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

    /// The blocking form, for callers on a thread of their own (the test lab).
    static func runBlocking(_ arguments: [String], input: String?, timeout: Duration) -> Result<ToolOutput, NetworkError> {
        let tool = arguments.first ?? ""
        // Input goes through a socket, not a pipe: a tool that exits before reading it all then
        // costs an EPIPE (send with MSG_NOSIGNAL) instead of a SIGPIPE that kills the reconciler.
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            return .failure(.toolMissing(tool: tool, detail: "socketpair: " + String(cString: strerror(errno))))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        defer { close(ends[0]) }
        do {
            try process.run()
        } catch {
            return .failure(.toolMissing(tool: tool, detail: "\(error)"))
        }
        process.standardInput = nil
        let collected = CollectedToolOutput()
        let drained = DispatchGroup()
        for (index, pipe) in [stdoutPipe, stderrPipe].enumerated() {
            drained.enter()
            Thread.detachNewThread {
                collected.store(pipe.fileHandleForReading.readDataToEndOfFile(), at: index)
                drained.leave()
            }
        }
        let pid = process.processIdentifier
        let killer = DispatchWorkItem {
            collected.markTimedOut()
            kill(pid, SIGKILL)
        }
        let (seconds, attoseconds) = timeout.components
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: killer)
        if let input { send(Array(input.utf8), to: ends[0]) }
        shutdown(ends[0], Int32(SHUT_WR))

        drained.wait()
        process.waitUntilExit()
        killer.cancel()
        if collected.timedOut {
            return .failure(.timeout(command: arguments.joined(separator: " "), after: timeout))
        }
        if process.terminationStatus == 127 {
            return .failure(.toolMissing(tool: tool, detail: String(decoding: collected.data[1], as: UTF8.self)))
        }
        return .success(ToolOutput(status: process.terminationStatus, stdout: collected.data[0],
                                   stderr: String(decoding: collected.data[1], as: UTF8.self)))
    }

    /// Writes all of `bytes`, stopping early when the tool has stopped reading.
    private static func send(_ bytes: [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            offset += count
        }
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
