import Foundation
import Testing

/// `reconcile daemon --simulated` as a real process: convergence, edits of farm.yaml, typos,
/// SIGHUP, requests and SIGTERM.
@Suite(.serialized) struct DaemonTests {
    static let farm = """
        version: 1
        defaults:
          apn: internet
          proxy:
            users: [alice]
          rotation:
            every: 30m
        ports:
          range: 21000-21999
        users:
          alice: { password: { file: alice.secret } }
        modems:
          - serial: "860000000000001"
            name: m01
          - serial: "860000000000002"
            name: m02

        """

    /// A scratch directory outside any git work tree holding farm.yaml and alice's secret.
    static func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "pf\(getpid())-daemon-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try farm.write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        try "daemon-Alice-Secret-19b\n".write(toFile: directory + "/alice.secret", atomically: true, encoding: .utf8)
        return directory
    }

    static func proxyPids(_ daemon: DaemonProcess) -> [Int] {
        ["m01", "m02"].compactMap { daemon.modemStatus($0)?["proxyPid"] as? Int }
    }

    @Test func convergesAndStopsOnSigtermLeavingProxiesRunning() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try DaemonProcess(in: directory)

        #expect(eventually { daemon.count("Ready") == 2 }, "\(daemon.log)")
        let pids = Self.proxyPids(daemon)
        #expect(pids.count == 2)
        #expect(daemon.stop() == 0, "\(daemon.log)")

        #expect(daemon.log.contains("stopped; proxies and modems left running"))
        let snapshot = try #require(FileManager.default.contents(atPath: daemon.state + "/simulated-farm.json"))
        let proxies = try #require((try JSONSerialization.jsonObject(with: snapshot) as? [String: Any])?["proxies"] as? [String: [String: Any]])
        #expect(Set(proxies.values.compactMap { $0["pid"] as? Int }) == Set(pids), "the proxies outlive the daemon")
        #expect(!daemon.log.contains("daemon-Alice-Secret-19b"))
        let again = try Subprocess.run(try Subprocess.reconcile, ["--dry-run", "--simulated"], in: directory)
        #expect(again.status == 0, "a new reconciler finds nothing to do: \(again.stdout)")
    }

    @Test func tellsSystemdReadyStatusWatchdogAndStopping() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let systemd = try NotifySocket()
        defer { systemd.close() }
        let daemon = try DaemonProcess(in: directory, environment: ["NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "400000"])

        // Both modems rotate every 30m, so either may come first; the seconds depend on how long
        // the first pass took (29m59s, or less on a slow machine).
        #expect(eventually {
            systemd.lines.contains { $0.hasPrefix("READY=1|STATUS=2/2 ready, next rotation m0") && $0.contains(" in 29m") }
        }, "\(systemd.lines)")
        #expect(eventually { systemd.lines.contains("WATCHDOG=1") }, "\(systemd.lines)")
        #expect(daemon.stop() == 0)
        #expect(eventually { systemd.lines.last == "STOPPING=1" }, "\(systemd.lines)")
    }

    /// `at:` times are the host's local time (`TZ`), not UTC: Tokyo is 9 hours ahead of UTC all
    /// year, so a slot two hours ahead on Tokyo's clock would be 10 to 11 hours away if read as UTC.
    @Test func rotationTimesAreReadInTheHostsTimeZone() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var tokyo = Calendar(identifier: .gregorian)
        tokyo.timeZone = try #require(TimeZone(identifier: "Asia/Tokyo"))
        let slot = String(format: "%02d:00", (tokyo.component(.hour, from: Date()) + 2) % 24)
        try Self.farm.replacingOccurrences(of: "every: 30m", with: "at: [\"\(slot)\"]").write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        let systemd = try NotifySocket()
        defer { systemd.close() }
        let daemon = try DaemonProcess(in: directory, environment: ["NOTIFY_SOCKET": systemd.address, "TZ": "Asia/Tokyo"])
        defer { _ = daemon.stop() }

        // Between 1h and 2h away: the slot is the top of the hour after next (59m… when Tokyo's
        // hour turned between choosing the slot and the daemon's first pass).
        #expect(eventually {
            systemd.lines.contains { $0.hasPrefix("READY=1|STATUS=2/2 ready, next rotation m0") && ($0.contains(" in 1h") || $0.contains(" in 59m")) }
        }, "slot \(slot) Tokyo time: \(systemd.lines)")
    }

    @Test func farmYamlEditsInPlaceAndByRenameAreAppliedWithinTwoSeconds() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try DaemonProcess(in: directory)
        defer { _ = daemon.stop() }
        #expect(eventually { daemon.count("Ready") == 2 }, "\(daemon.log)")
        let first = try #require(daemon.farmStatus()?["specRevision"] as? String)

        try (Self.farm + "  - serial: \"860000000000003\"\n    name: m03\n").write(toFile: directory + "/farm.yaml", atomically: false, encoding: .utf8)
        #expect(eventually(within: 2) { daemon.count("Ready") == 3 }, "write in place: \(daemon.log)")
        let second = try #require(daemon.farmStatus()?["specRevision"] as? String)
        #expect(second != first)

        try saveByRename(Self.farm, to: directory + "/farm.yaml")
        #expect(eventually(within: 2) { daemon.farmStatus()?["modems"] as? Int == 2 && daemon.modemStatus("m03") == nil }, "rename: \(daemon.log)")
        #expect(daemon.farmStatus()?["specRevision"] as? String == first)
    }

    @Test func aTypoKeepsTheLastValidSpecAndShowsTheErrorWithLineAndColumn() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try DaemonProcess(in: directory)
        defer { _ = daemon.stop() }
        #expect(eventually { daemon.count("Ready") == 2 }, "\(daemon.log)")
        let revision = try #require(daemon.farmStatus()?["specRevision"] as? String)
        let pids = Self.proxyPids(daemon)

        try saveByRename(Self.farm.replacingOccurrences(of: "    name: m02", with: "    nmae: m02"), to: directory + "/farm.yaml")

        #expect(eventually(within: 2) { daemon.farmStatus()?["specErrors"] != nil }, "\(daemon.log)")
        let errors = try #require(daemon.farmStatus()?["specErrors"] as? [String])
        #expect(errors.contains { $0.hasPrefix("farm.yaml:16:5: error: ") && $0.contains("nmae") }, "\(errors)")
        #expect(daemon.farmStatus()?["specRevision"] as? String == revision)
        #expect(daemon.count("Ready") == 2)
        #expect(Self.proxyPids(daemon) == pids, "nothing torn down because of a typo")
        let status = try Subprocess.run(try Subprocess.reconcile, ["status"], in: directory)
        #expect(status.stdout.contains("farm.yaml is invalid; the daemon keeps revision"), "\(status.stdout)")
        #expect(status.stdout.contains("farm.yaml:16:5: error: "))

        try saveByRename(Self.farm, to: directory + "/farm.yaml")
        #expect(eventually(within: 2) { daemon.farmStatus().map { $0["specErrors"] == nil } ?? false }, "fixed: \(daemon.log)")
    }

    @Test func sighupRereadsAndRequestFilesAreActedOnAndConsumed() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try DaemonProcess(in: directory)
        defer { _ = daemon.stop() }
        #expect(eventually { daemon.count("Ready") == 2 }, "\(daemon.log)")

        daemon.signal(SIGHUP)
        #expect(eventually(within: 2) { daemon.log.contains("pass: reload requested (SIGHUP)") }, "\(daemon.log)")

        let filed = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m02", "--now", "--simulated"], in: directory)
        #expect(filed.status == 0, "\(filed.stderr)")
        #expect(filed.stdout.contains("a daemon holds the state directory"), "\(filed.stdout)")
        #expect(filed.stdout.contains("rotate m02: filed in"))
        #expect(eventually(within: 2) {
            (daemon.modemStatus("m02")?["rotation"] as? [String: Any])?["count"] as? Int == 1
                && (try? FileManager.default.contentsOfDirectory(atPath: daemon.state + "/requests"))?.isEmpty == true
        }, "\(daemon.log)")
        #expect((daemon.modemStatus("m01")?["rotation"] as? [String: Any])?["count"] as? Int == 0)
        #expect(daemon.log.contains("m02: new IP 100.64.2.10 → 100.64.2.11"), "\(daemon.log)")
    }

    @Test func scheduledRotationsWakeTheDaemonWithoutAnyEvent() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.farm.replacingOccurrences(of: "every: 30m", with: "every: 1s").write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(in: directory)
        defer { _ = daemon.stop() }

        #expect(eventually(within: 6) { ((daemon.modemStatus("m01")?["rotation"] as? [String: Any])?["count"] as? Int ?? 0) >= 2 }, "\(daemon.log)")
        #expect(daemon.log.contains("pass: timer"), "woken by the rotation due, well before the 60s resync: \(daemon.log)")
    }

    @Test func startingWithAnInvalidFarmYamlWaitsForAFix() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "version: 1\nmodems: [\n".write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(in: directory)
        defer { _ = daemon.stop() }

        #expect(eventually { (daemon.farmStatus()?["specErrors"] as? [String])?.first?.hasPrefix("farm.yaml:") == true }, "\(daemon.log)")
        #expect(daemon.farmStatus()?["modems"] as? Int == 0)
        let status = try Subprocess.run(try Subprocess.reconcile, ["status"], in: directory)
        #expect(status.stdout.contains("farm: revision none") && status.stdout.contains("no valid version has been applied yet:\n  farm.yaml:"),
                "\(status.stdout)")

        try saveByRename(Self.farm, to: directory + "/farm.yaml")
        #expect(eventually(within: 2) { daemon.count("Ready") == 2 }, "\(daemon.log)")
    }
}
