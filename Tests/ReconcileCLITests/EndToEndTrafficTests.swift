import Foundation
import Testing

/// Issue 17 in the lab: bytes through a modem's proxy show in its byte counters within a pass,
/// only in that modem's, and keep counting across a rotation and a daemon restart; the metrics of
/// the running lab are valid Prometheus text and hold every metric the alerts and the dashboard use.
@Suite(.serialized) struct EndToEndTrafficTests {
    static let promtool = "/usr/bin/promtool"
    static let prometheus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("packaging/prometheus").path

    @Test("a download through m01's proxy shows in m01's traffic within a pass (not m02's), across a rotation and a daemon restart",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func trafficIsCountedPerModem() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let m01 = try #require(Self.traffic(lab, "m01"))
        let m02 = try #require(Self.traffic(lab, "m02"))

        #expect(try lab.download(1, bytes: 3_000_000))
        // The lab probes every 5 s, so a pass comes within seconds.
        try lab.waitUntil("m01 counted the download", timeout: .seconds(15)) { (Self.traffic(lab, "m01")?.receive ?? 0) >= m01.receive + 3_000_000 }
        let counted = try #require(Self.traffic(lab, "m01"))
        #expect(counted.transmit > m01.transmit)
        #expect((Self.traffic(lab, "m02")?.receive ?? 0) < m02.receive + 1_000_000, "m02 carried none of it")
        let metrics = try String(contentsOfFile: lab.state + "/status/metrics.prom", encoding: .utf8)
        let sample = metrics.split(separator: "\n").first { $0.hasPrefix("proxyfarm_modem_receive_bytes_total{modem=\"m01\"} ") }
        #expect(sample.flatMap { UInt64($0.split(separator: " ").last ?? "") }.map { $0 >= counted.receive } == true, "\(metrics)")

        #expect(try lab.reconcile("rotate", "m01").status == 0)
        try lab.waitUntil("m01 rotated") { (lab.status("m01")?["rotation"] as? [String: Any])?["count"] as? Int == 1 && lab.phase("m01") == "Ready" }
        lab.stopDaemon()
        #expect(try lab.download(1, bytes: 2_000_000), "the proxy serves while no daemon runs")
        try lab.startDaemon()
        try lab.waitUntil("m01 counted the download made while no daemon ran", timeout: .seconds(15)) {
            (Self.traffic(lab, "m01")?.receive ?? 0) >= counted.receive + 2_000_000
        }

        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool missing: run scripts/install-deps (Debian prometheus)")
        let check = try Subprocess.run("/bin/sh", ["-c", "\(Self.promtool) check metrics < \(lab.state)/status/metrics.prom"])
        #expect(check.status == 0 && check.stdout.isEmpty && check.stderr.isEmpty, "promtool: \(check.stdout) \(check.stderr)")

        // Every metric the alert rules and the Grafana dashboard use is in the lab's metrics.
        let used = try Subprocess.run("/bin/grep", ["-ohE", "proxyfarm_[a-z_]+", "alerts.yml", "../grafana/proxyfarm.json"], in: Self.prometheus)
        let names = Set(used.stdout.split(separator: "\n").map(String.init))
        #expect(names.count >= 15)
        let exported = try String(contentsOfFile: lab.state + "/status/metrics.prom", encoding: .utf8)
        #expect(names.filter { !exported.contains("# TYPE \($0) ") }.sorted() == [], "used but not in the lab's metrics")
    }

    static func traffic(_ lab: EndToEndLab, _ modem: String) -> (receive: UInt64, transmit: UInt64)? {
        guard let traffic = lab.status(modem)?["traffic"] as? [String: Any],
              let receive = (traffic["receive"] as? NSNumber)?.uint64Value, let transmit = (traffic["transmit"] as? NSNumber)?.uint64Value else { return nil }
        return (receive, transmit)
    }
}
