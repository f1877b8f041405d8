import Drivers
import Foundation
import Testing

/// The kernel half of raw-IP on a real link: a veth `wwan0` in a namespace of its own, with a
/// fake `qmi/raw_ip` beside it (veth has none) and iproute2 pointed into the namespace. The
/// namespace's own sysfs (through `ip netns exec`) counts the carrier drops.
@Suite("Kernel raw_ip: written while the link is down")
struct KernelDataFormatTests {
    static let isRoot = getuid() == 0
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    // Needs root for the namespace; outside CI a non-root run skips (CI runs as root and must run it).
    @Test("an up link is taken down for the write and brought back up",
          .enabled(if: isRoot || inCI, "needs root to create a network namespace"))
    func upLinkIsCycled() throws {
        let ip = try #require(KernelDataFormat.ipTool, "iproute2 missing")
        let namespace = "pf\(getpid())qmi"
        try run(ip, "netns", "add", namespace)
        defer { try? run(ip, "netns", "del", namespace) }
        try run(ip, "-n", namespace, "link", "add", "wwan0", "type", "veth", "peer", "name", "carrier0")
        try run(ip, "-n", namespace, "link", "set", "wwan0", "up")
        try run(ip, "-n", namespace, "link", "set", "carrier0", "up")

        let sysfs = FileManager.default.temporaryDirectory.appendingPathComponent("pf\(getpid())-rawip").path
        defer { try? FileManager.default.removeItem(atPath: sysfs) }
        try FileManager.default.createDirectory(atPath: sysfs + "/class/net/wwan0/qmi", withIntermediateDirectories: true)
        try "N\n".write(toFile: sysfs + "/class/net/wwan0/qmi/raw_ip", atomically: false, encoding: .utf8)
        try "0x1003\n".write(toFile: sysfs + "/class/net/wwan0/flags", atomically: false, encoding: .utf8)

        let before = try output(ip, "netns", "exec", namespace, "cat", "/sys/class/net/wwan0/carrier_changes")
        let kernel = KernelDataFormat(sysfsRoot: sysfs, ipCommand: [ip, "-n", namespace])
        try kernel.setRawIP("wwan0")
        #expect(try kernel.usesRawIP("wwan0"))
        let after = try output(ip, "netns", "exec", namespace, "cat", "/sys/class/net/wwan0/carrier_changes",
                               "/sys/class/net/wwan0/flags")
        // One down and one up: the carrier dropped and came back exactly once, and the link is up.
        #expect(after.split(separator: "\n").first.flatMap { Int($0) } == Int(before.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 + 2 })
        #expect(after.split(separator: "\n").last == "0x1003")
    }

    @Test("a link that is down stays down and raw_ip is written")
    func downLinkIsLeftAlone() throws {
        let sysfs = FileManager.default.temporaryDirectory.appendingPathComponent("pf\(getpid())-rawip-down").path
        defer { try? FileManager.default.removeItem(atPath: sysfs) }
        try FileManager.default.createDirectory(atPath: sysfs + "/class/net/wwan9/qmi", withIntermediateDirectories: true)
        try "N\n".write(toFile: sysfs + "/class/net/wwan9/qmi/raw_ip", atomically: false, encoding: .utf8)
        try "0x1002\n".write(toFile: sysfs + "/class/net/wwan9/flags", atomically: false, encoding: .utf8)
        let kernel = KernelDataFormat(sysfsRoot: sysfs, ipCommand: ["/bin/false"])
        try kernel.setRawIP("wwan9")
        #expect(try kernel.usesRawIP("wwan9"))
    }

    @Test("an interface without qmi/raw_ip is a KernelDataFormat error naming the file")
    func missingAttribute() {
        let kernel = KernelDataFormat(sysfsRoot: "/nonexistent-pf\(getpid())")
        #expect(throws: QMIError.self) { try kernel.setRawIP("wwan0") }
        do {
            try kernel.setRawIP("wwan0")
        } catch let error as QMIError {
            #expect(error.reason == "KernelDataFormat")
            #expect(error.message.contains("/nonexistent-pf\(getpid())/class/net/wwan0/qmi/raw_ip"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

private func run(_ arguments: String...) throws {
    _ = try output(arguments)
}

private func output(_ arguments: String...) throws -> String {
    try output(arguments)
}

/// Runs a short command (no timeout needed: `ip` and `cat` do not wait) and returns its stdout.
private func output(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw QMIError(.kernelDataFormat, device: "test", operation: arguments.joined(separator: " "),
                       detail: "exited \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}
