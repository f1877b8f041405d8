import Foundation
@testable import ReconcileCLI
import Testing

/// `reconcile lab modem`: argument checks, and the real binary serving qmicli until SIGTERM.
struct LabModemTests {
    @Test(arguments: [
        ["--device", "/tmp/x", "--pool", "100.64.1.0/33"],
        ["--device", "/tmp/x", "--pool", "example"],
        ["--device", "/tmp/x", "--imei", "35907206000000A"],
        ["--pool", "100.64.1.0/24"],
    ])
    func badArgumentsAreRefused(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try LabModem.parse(arguments) }
    }

    @Test func defaultsMatchTheSimulator() throws {
        let command = try LabModem.parse(["--device", "/tmp/x"])
        #expect(command.pool == "100.64.1.0/24")
        #expect(command.pin == nil && !command.stickyIP)
    }

    static let qmicli = ["/usr/bin/qmicli", "/bin/qmicli"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// The `reconcile` executable SwiftPM builds next to the test binary.
    static let reconcile = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("reconcile").path

    // Needs qmicli (Debian libqmi-utils) to talk to the modem; in CI (CI=true) it must be there.
    @Test(.enabled(if: qmicli != nil || ProcessInfo.processInfo.environment["CI"] == "true",
                   "qmicli (Debian libqmi-utils) is not installed"))
    func servesUntilSIGTERMAndRemovesItsLink() async throws {
        let qmicli = try #require(Self.qmicli, "qmicli not found: install Debian's libqmi-utils")
        try #require(FileManager.default.isExecutableFile(atPath: Self.reconcile), "no \(Self.reconcile): swift build first")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pf-labmodem-\(getpid())-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let device = directory.appendingPathComponent("cdc-wdm0").path

        let lab = Process()
        lab.executableURL = URL(fileURLWithPath: Self.reconcile)
        lab.arguments = ["lab", "modem", "--device", device, "--imei", "359072060000424", "--pin", "4321"]
        let output = Pipe()
        lab.standardOutput = output
        try lab.run()
        defer { if lab.isRunning { lab.terminate() } }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: device), clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }

        let query = Process()
        query.executableURL = URL(fileURLWithPath: qmicli)
        query.arguments = ["-d", device, "--device-open-qmi", "--dms-get-ids"]
        let answer = Pipe()
        query.standardOutput = answer
        query.standardError = FileHandle.nullDevice
        try query.run()
        let ids = String(decoding: answer.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        query.waitUntilExit()
        #expect(ids.contains("IMEI: '359072060000424'"), "\(ids)")

        lab.terminate()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        lab.waitUntilExit()
        #expect(lab.terminationStatus == 0)
        #expect(printed.contains("serving at \(device)"))
        #expect(printed.contains("stopped (SIGTERM)"))
        #expect(!printed.contains("4321"))
        #expect(!FileManager.default.fileExists(atPath: device))
    }
}
