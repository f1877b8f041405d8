import Foundation
import Reconciler

/// A long-running child whose stdout lines are collected as they come.
final class LineCollectingProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let errors: ErrorCollector
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(filePath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe(), errorPipe = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errorPipe
        errors = ErrorCollector(errorPipe.fileHandleForReading)
        output.fileHandleForReading.readabilityHandler = { [self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            received(chunk)
        }
        try process.run()
    }

    private func received(_ chunk: Data) {
        lock.withLock {
            partial.append(chunk)
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
                partial.removeSubrange(partial.startIndex...newline)
            }
        }
    }

    var output: [String] { lock.withLock { lines } }
    var errorText: String { errors.text }

    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Polls the collected lines until `found` picks a result, or fails after `timeout`.
    func waitFor<T>(_ what: String, timeout: Duration = .seconds(20), _ found: ([String]) throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let result = try found(output) { return result }
            guard ContinuousClock.now < deadline else { throw UMockdevLabError.timeout(what, errorText) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Says `quit` and closes stdin, gives the process `grace` to exit on it (the testbed controller
    /// then deletes its directory), and kills it otherwise. Not SIGTERM, and not waiting for EOF
    /// alone: a process spawned meanwhile by another test may hold our pipe open, and Foundation
    /// starts children with SIGTERM blocked.
    func stop(grace: Duration = .zero) {
        send("quit")
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now.advanced(by: grace)
        while process.isRunning && ContinuousClock.now < deadline {
            usleep(5_000)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A live umockdev testbed (Tests/DriversTests/Fixtures/umockdev/testbed.py, itself under the
/// preload library, which is what lets it send uevents) that devices are plugged into and pulled
/// from while a `DiscoveryProbe watch` runs in it.
final class LiveTestbed: @unchecked Sendable {
    private let controller: LineCollectingProcess
    private var replies = 0
    let root: String

    init() async throws {
        try UMockdevLab.require()
        controller = try LineCollectingProcess(
            UMockdevLab.executable(named: "umockdev-wrapper") ?? "umockdev-wrapper",
            [UMockdevLab.python, UMockdevLab.fixtures.appending(path: "testbed.py").path])
        root = try await controller.waitFor("testbed root") { lines in
            lines.first.flatMap { $0.hasPrefix("root ") ? String($0.dropFirst(5)) : nil }
        }
    }

    /// Adds a fixture's devices and sends their `add` uevents, parents first.
    func plug(_ fixture: String) async throws {
        try await command("add \(UMockdevLab.fixture(fixture))")
    }

    /// Sends `remove` uevents for a device and everything below it, then deletes them.
    func unplug(_ syspath: String) async throws {
        try await command("remove \(syspath)")
    }

    private func command(_ line: String) async throws {
        controller.send(line)
        replies += 1
        let expected = replies
        let reply = try await controller.waitFor("testbed reply to \(line)") { lines in
            lines.count > expected ? lines[expected] : nil
        }
        guard reply == "ok" else { throw UMockdevLabError.failed(line, reply + " " + controller.errorText) }
    }

    /// Starts `DiscoveryProbe watch` inside this testbed; returns once it is subscribed.
    func watch(quietPeriod: Duration) async throws -> LineCollectingProcess {
        let milliseconds = quietPeriod.components.seconds * 1000 + quietPeriod.components.attoseconds / 1_000_000_000_000_000
        let probe = try LineCollectingProcess(try UMockdevLab.probe, ["watch", "\(milliseconds)"],
                                              environment: ["UMOCKDEV_DIR": root, "LD_PRELOAD": "libumockdev-preload.so.0"])
        _ = try await probe.waitFor("probe subscribed") { $0.first == "watching" ? true : nil }
        return probe
    }

    func close() {
        controller.stop(grace: .seconds(2))
    }
}

extension LineCollectingProcess {
    /// The enumerations printed after each wake-up (the first line only says the watch started).
    func wakeUps() throws -> [[PluggedModem]] {
        try output.dropFirst().map(UMockdevLab.decodeModems)
    }

    /// Waits for a wake-up whose enumeration satisfies `condition`, and returns it.
    func waitForWakeUp(_ what: String, where condition: @escaping ([PluggedModem]) -> Bool) async throws -> [PluggedModem] {
        try await waitFor(what) { lines in
            try lines.dropFirst().map(UMockdevLab.decodeModems).last.flatMap { condition($0) ? $0 : nil }
        }
    }
}
