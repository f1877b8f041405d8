import Foundation
@testable import Drivers

/// What a finished command printed, and how it ended.
struct CommandOutput: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool
    var succeeded: Bool { status == 0 && !timedOut }

    /// Its stdout, or an error naming what failed.
    @discardableResult
    func check() throws -> String {
        guard succeeded else { throw LabError("command failed: \(stderr)") }
        return stdout
    }
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

/// Runs tools for the test lab (ip, setpriv, curl, python3) with the drivers' own runner.
enum LabCommand {
    static func run(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(20)) throws -> CommandOutput {
        switch NetworkToolRunner.runBlocking(arguments, input: input, timeout: timeout) {
        case .success(let output):
            CommandOutput(status: output.status, stdout: String(decoding: output.stdout, as: UTF8.self), stderr: output.stderr, timedOut: false)
        case .failure(.timeout):
            CommandOutput(status: -1, stdout: "", stderr: "timed out after \(timeout)", timedOut: true)
        case .failure(let error):
            throw LabError(error.message)
        }
    }

    /// Runs a command and returns its stdout, or throws with its stderr.
    @discardableResult
    static func check(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(20)) throws -> String {
        let output = try run(arguments, input: input, timeout: timeout)
        guard output.succeeded else { throw LabError(arguments, output) }
        return output.stdout
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
