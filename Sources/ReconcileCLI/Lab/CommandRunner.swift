import Foundation

/// Runs the lab's tools (`ip`, `python3`) and turns a failure into a `LabError` with their stderr.
enum CommandRunner {
    /// Runs `tool` (looked up on PATH and in the sbin directories) and returns its stdout.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws(LabError) -> String {
        let path = try locate(tool)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let command = ([tool] + arguments).joined(separator: " ")
        do {
            try process.run()
        } catch {
            throw .commandFailed(command: command, status: -1, output: String(describing: error))
        }
        let errorText = ErrorCollector(errors.fileHandleForReading)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .commandFailed(command: command, status: process.terminationStatus, output: errorText.text())
        }
        return String(decoding: stdout, as: UTF8.self)
    }

    static func locate(_ tool: String) throws(LabError) -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        guard let found = directories.lazy.map({ $0 + "/" + tool }).first(where: { access($0, X_OK) == 0 }) else {
            throw .toolMissing(tool)
        }
        return found
    }
}

/// Reads a pipe to its end on another thread, so a chatty stderr cannot block the child while
/// its stdout is being read. Unchecked: `data` is written once before `done` is signalled and read
/// only after waiting for it.
private final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        DispatchQueue.global().async { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
