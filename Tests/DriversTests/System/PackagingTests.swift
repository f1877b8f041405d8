import Foundation
import Testing

/// The files under packaging/: checked by the tools that will read them.
@Suite struct PackagingTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let unitPath = repository.appendingPathComponent("packaging/systemd/proxyfarm.service").path
    static let logrotatePath = repository.appendingPathComponent("packaging/logrotate/proxyfarm").path
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let systemdAnalyze = "/usr/bin/systemd-analyze"
    static let logrotate = "/usr/sbin/logrotate"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: systemdAnalyze) || inCI,
                   "needs systemd-analyze (Debian: systemd); required when CI=true"),
          arguments: ["proxyfarm.service", "proxyfarm-serve.service", "proxyfarm-gateway.service", "proxyfarm-pull.service", "proxyfarm-pull.timer"])
    func unitPassesSystemdAnalyzeVerifyWithoutAWarning(_ name: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.systemdAnalyze), "install the Debian package systemd")
        let dir = try ScratchDirectory("unit")
        defer { dir.remove() }
        // verify insists that ExecStart's program exists; everything else is checked as shipped.
        // Every unit is there, so that a timer finds its service.
        let units = Self.repository.appendingPathComponent("packaging/systemd").path
        for file in try FileManager.default.contentsOfDirectory(atPath: units) {
            let unit = try String(contentsOfFile: units + "/" + file, encoding: .utf8)
                .replacingOccurrences(of: "ExecStart=/usr/local/bin/reconcile ", with: "ExecStart=/bin/true ")
            try dir.write(file, unit)
        }

        let result = try run(Self.systemdAnalyze, ["verify", "--man=no", dir.file(name)])

        #expect(result.status == 0)
        #expect(result.output == "", "systemd-analyze warns: \(result.output)")
    }

    @Test func unitKeepsTheDaemonsContract() throws {
        let settings = try unitSettings()
        #expect(settings["ExecStart"] == ["/usr/local/bin/reconcile daemon --file /etc/proxyfarm/farm.yaml --state /var/lib/proxyfarm"])
        #expect(settings["Type"] == ["notify"])
        #expect(settings["NotifyAccess"] == ["main"])
        #expect(settings["WatchdogSec"] == ["60s"])
        #expect(settings["Restart"] == ["on-failure"])
        #expect(settings["KillMode"] == ["process"], "proxies must outlive a daemon restart")
        #expect(settings["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"])
        let capabilities = Set(try #require(settings["CapabilityBoundingSet"]?.first).split(separator: " ").map(String.init))
        #expect(capabilities.isSuperset(of: ["CAP_NET_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN"]))
        #expect(settings["ReadWritePaths"] == ["/var/lib/proxyfarm"])
    }

    @Test func serveRunsUnprivilegedAndWritesOnlyRequests() throws {
        let settings = try unitSettings(Self.repository.appendingPathComponent("packaging/systemd/proxyfarm-serve.service").path)
        #expect(settings["ExecStart"] == ["/usr/local/bin/reconcile serve --file /etc/proxyfarm/farm.yaml --state /var/lib/proxyfarm"])
        #expect(settings["User"] == ["proxyfarm-api"] && settings["Group"] == ["proxyfarm-api"])
        #expect(settings["CapabilityBoundingSet"] == [""] && settings["NoNewPrivileges"] == ["yes"])
        #expect(settings["ProtectSystem"] == ["strict"] && settings["ReadWritePaths"] == ["/var/lib/proxyfarm/requests"])
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: logrotate) || inCI,
                   "needs logrotate (Debian: logrotate); required when CI=true"))
    func logrotateTruncatesOpenLogsInPlaceAndLeaves3proxysOwnLogsAlone() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.logrotate), "install the Debian package logrotate")
        let dir = try ScratchDirectory("logrotate")
        defer { dir.remove() }
        let proxyLogs = dir.file("state/log/proxies/m01")
        try FileManager.default.createDirectory(atPath: proxyLogs, withIntermediateDirectories: true)
        try dir.write("state/log/proxies/m01/3proxy.out", "startup error\n")
        try dir.write("state/log/proxies/m01/3proxy.log.2026.11.20", "access log\n")
        try dir.write("state/log/actions.jsonl", "{\"action\":\"connect\"}\n")
        if geteuid() == 0 {
            // As the proxy supervisor leaves them: the modem's uid owns its log dir (0750) and output (0640).
            #expect(chown(proxyLogs, 20001, 20001) == 0 && chmod(proxyLogs, 0o750) == 0)
            #expect(chown(proxyLogs + "/3proxy.out", 20001, 20001) == 0 && chmod(proxyLogs + "/3proxy.out", 0o640) == 0)
        }
        let config = try String(contentsOfFile: Self.logrotatePath, encoding: .utf8)
            .replacingOccurrences(of: "/var/lib/proxyfarm/", with: dir.file("state/"))
        try dir.write("logrotate.conf", config)
        let proxy = try #require(FileHandle(forUpdatingAtPath: proxyLogs + "/3proxy.out"))
        defer { try? proxy.close() }
        // As the proxy's stdout: opened for appending, and still open during rotation.
        _ = fcntl(proxy.fileDescriptor, F_SETFL, O_APPEND)

        let result = try run(Self.logrotate, ["--force", "--state", dir.file("logrotate.state"), dir.file("logrotate.conf")])
        try proxy.write(contentsOf: Data("after rotation\n".utf8))

        #expect(result.status == 0, "logrotate: \(result.output)")
        #expect(try String(contentsOfFile: proxyLogs + "/3proxy.out.1", encoding: .utf8) == "startup error\n")
        #expect(try String(contentsOfFile: proxyLogs + "/3proxy.out", encoding: .utf8) == "after rotation\n")
        #expect(try String(contentsOfFile: dir.file("state/log/actions.jsonl.1"), encoding: .utf8) == "{\"action\":\"connect\"}\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: proxyLogs).sorted()
            == ["3proxy.log.2026.11.20", "3proxy.out", "3proxy.out.1"])
    }

    /// `Key=value` lines of the unit; a key given twice keeps every value in order.
    private func unitSettings(_ path: String = unitPath) throws -> [String: [String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline)
        var settings: [String: [String]] = [:]
        for line in lines where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
