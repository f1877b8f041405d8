import Foundation
import ModemSimulator
import Testing

/// The real `qmicli` from Debian's libqmi-utils: the conformance judge for the simulator.
enum Qmicli {
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/qmicli" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// In CI a missing qmicli must fail the conformance tests, not skip them.
    static let isRequired = ProcessInfo.processInfo.environment["CI"] == "true"
    static let canRun = path != nil || isRequired

    struct Result {
        var status: Int32
        /// stdout and stderr together, libqmi's transport warnings removed.
        var output: String
        var elapsed: Duration
    }

    /// Runs `qmicli -d DEVICE --device-open-qmi ARGS…` and waits without blocking a test thread.
    /// `--device-open-qmi` because a pty has no cdc-wdm sysfs node for AUTO mode to inspect.
    static func run(_ device: String, _ arguments: [String]) async throws -> Result {
        let executable = try #require(path, "qmicli not found on PATH: install Debian's libqmi-utils")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-d", device, "--device-open-qmi"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let clock = ContinuousClock()
        let started = clock.now
        let output = Output()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        pipe.fileHandleForReading.readabilityHandler = nil
        output.append(pipe.fileHandleForReading.readDataToEndOfFile())
        let text = output.text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("-Warning **") }
            .joined(separator: "\n")
        return Result(status: process.terminationStatus, output: text, elapsed: clock.now - started)
    }

    /// Runs and expects success; returns the output.
    static func succeed(_ device: String, _ arguments: [String],
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await run(device, arguments)
        #expect(result.status == 0, "qmicli \(arguments) failed:\n\(result.output)", sourceLocation: sourceLocation)
        return result.output
    }

    /// Runs and expects failure; returns the output (which carries libqmi's error).
    static func fail(_ device: String, _ arguments: [String],
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await run(device, arguments)
        #expect(result.status != 0, "qmicli \(arguments) should have failed:\n\(result.output)",
                sourceLocation: sourceLocation)
        return result.output
    }
}

private final class Output: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

/// A simulator linked at a fresh temporary path, torn down by `close()`.
struct LinkedModem {
    let modem: SimulatedModem
    let directory: URL
    let device: String

    init(_ configuration: SimulatedModem.Configuration = .init()) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pf-sim-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        device = directory.appendingPathComponent("cdc-wdm0").path
        modem = SimulatedModem(configuration)
        try modem.start(linkingAt: device)
    }

    func close() {
        modem.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func qmicli(_ arguments: String...) async throws -> String {
        try await Qmicli.succeed(device, arguments)
    }

    func qmicliFailing(_ arguments: String...) async throws -> String {
        try await Qmicli.fail(device, arguments)
    }
}

/// The first capture group of `pattern` in `text`.
func capture(_ pattern: String, in text: String) throws -> String {
    let regex = try Regex(pattern)
    let match = try #require(text.firstMatch(of: regex), "no \(pattern) in:\n\(text)")
    return String(try #require(match.output[1].substring))
}
