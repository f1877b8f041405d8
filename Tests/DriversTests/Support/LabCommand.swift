import Foundation

/// What a finished command printed, and how it ended.
struct CommandOutput: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool
    var succeeded: Bool { status == 0 && !timedOut }
}

/// A lab step that did not work; the message names the command so a failing test says what broke.
struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
    init(_ arguments: [String], _ output: CommandOutput) {
        let how = output.timedOut ? "timed out" : "exited \(output.status)"
        description = "`\(arguments.joined(separator: " "))` \(how): \(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// Runs tools for the test lab (ip, setpriv, curl, python3). Output pipes are drained on their own
/// threads so a chatty command can never block on a full pipe; a timeout ends it with SIGKILL.
enum LabCommand {
    static func run(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(20)) throws -> CommandOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        if let input { stdinPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try stdinPipe.fileHandleForWriting.close()

        let outputs = CollectedOutput()
        let group = DispatchGroup()
        for (index, pipe) in [stdoutPipe, stderrPipe].enumerated() {
            group.enter()
            Thread.detachNewThread {
                outputs.store(pipe.fileHandleForReading.readDataToEndOfFile(), at: index)
                group.leave()
            }
        }
        let pid = process.processIdentifier
        let killer = DispatchWorkItem {
            outputs.markTimedOut()
            kill(pid, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout.timeInterval, execute: killer)
        group.wait()
        process.waitUntilExit()
        killer.cancel()
        return outputs.result(status: process.terminationStatus)
    }

    /// Runs a command and returns its stdout, or throws with its stderr.
    @discardableResult
    static func check(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(20)) throws -> String {
        let output = try run(arguments, input: input, timeout: timeout)
        guard output.succeeded else { throw LabError(arguments, output) }
        return output.stdout
    }
}

private final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var data = [Data(), Data()]
    private var timedOut = false

    func store(_ bytes: Data, at index: Int) { lock.withLock { data[index] = bytes } }
    func markTimedOut() { lock.withLock { timedOut = true } }
    func result(status: Int32) -> CommandOutput {
        lock.withLock {
            CommandOutput(status: status, stdout: String(decoding: data[0], as: UTF8.self),
                          stderr: String(decoding: data[1], as: UTF8.self), timedOut: timedOut)
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
