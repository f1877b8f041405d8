import Foundation
import Testing

/// `reconcile serve …` as a real process on a free port of 127.0.0.1, and requests to it with curl.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let log: String

    /// A port the kernel just handed out and that nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound, "no free port")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts serve in `directory` (farm.yaml there names `port`) and waits until it answers.
    init(_ arguments: [String], in directory: String, port: Int, environment: [String: String] = [:]) throws {
        self.port = port
        log = directory + "/serve.log"
        process.executableURL = URL(fileURLWithPath: try Subprocess.reconcile)
        process.arguments = ["serve"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(Subprocess.checkout.merging(environment) { _, new in new }) { _, new in new }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while try get("/metrics").status == 0 {
            guard process.isRunning, ContinuousClock.now < deadline else {
                Issue.record("serve did not start listening; log:\n\(output)")
                throw Failed()
            }
            usleep(100_000)
        }
    }

    struct Failed: Error {}

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// SIGTERM, then its exit status: nil when it had to be killed after 10 s. Reaps the child
    /// itself (see `Subprocess.reap`), so it reads the status from `waitpid` unless Foundation was first.
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return status & 0x7f == 0 ? (status >> 8) & 0xff : -(status & 0x7f) }
            if reaped < 0 {
                // Foundation's own monitor reaped it first, and says so a moment later.
                while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
                guard !process.isRunning else { return nil }
                return process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return nil
    }

    struct Answer {
        /// 0 when nothing answered.
        var status: Int
        var body: String
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] }
    }

    func get(_ path: String, method: String = "GET", token: String? = nil, body: String? = nil) throws -> Answer {
        var arguments = ["-sS", "-m", "120", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let body { arguments += ["--data-binary", body] }
        let result = try Subprocess.run("/usr/bin/env", ["curl"] + arguments)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return Answer(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n"))
    }
}
