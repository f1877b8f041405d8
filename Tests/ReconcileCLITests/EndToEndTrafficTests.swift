import Foundation
import Testing

/// Issue 17 in the lab: bytes through a modem's proxy show in its byte counters within a pass,
/// only in that modem's, and keep counting across a rotation and a daemon restart; a user with a
/// small quota is cut off by the proxy (HTTP and SOCKS) while another user is not, the status says
/// so, and the proxy's counts survive a reload, a rotation and a daemon restart; the metrics of
/// the running lab are valid Prometheus text and hold every metric the alerts and the dashboard use.
@Suite(.serialized) struct EndToEndTrafficTests {
    static let promtool = "/usr/bin/promtool"
    static let prometheus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("packaging/prometheus").path

    static let quotaUser = "small"
    static let quotaPassword = "test-small-pw"

    @Test("a download through m01's proxy shows in m01's traffic within a pass (not m02's), across a rotation and a daemon restart; a user's quota cuts it off",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func trafficIsCountedPerModem() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.prepareFarm()
        let farmFile = lab.directory + "/farm.yaml"
        let secret = lab.directory + "/secrets/\(Self.quotaUser)"
        #expect(FileManager.default.createFile(atPath: secret, contents: Data(Self.quotaPassword.utf8), attributes: [.posixPermissions: 0o600]))
        let original = try String(contentsOfFile: farmFile, encoding: .utf8)
        let withQuota = original.replacingOccurrences(of: "    users: [lab]\n", with: "    users: [lab, \(Self.quotaUser)]\n")
            .replacingOccurrences(of: "users:\n", with: "users:\n  \(Self.quotaUser): { password: { file: secrets/\(Self.quotaUser) }, quota: 1MB per day }\n")
        try #require(withQuota.contains("quota: 1MB per day") && withQuota.contains("[lab, small]"), "\(original)")
        try withQuota.write(toFile: farmFile, atomically: true, encoding: .utf8)
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
        // A pass writes the modem's status file before metrics.prom, so the metrics may follow a moment later.
        try lab.waitUntil("metrics.prom counted the download", timeout: .seconds(2)) {
            let metrics = (try? String(contentsOfFile: lab.state + "/status/metrics.prom", encoding: .utf8)) ?? ""
            let sample = metrics.split(separator: "\n").first { $0.hasPrefix("proxyfarm_modem_receive_bytes_total{modem=\"m01\"} ") }
            return sample.flatMap { UInt64($0.split(separator: " ").last ?? "") }.map { $0 >= counted.receive } == true
        }

        try Self.quotaCutsOff(lab, farmFile: farmFile)

        #expect(try lab.reconcile("rotate", "m01").status == 0)
        try lab.waitUntil("m01 rotated") { (lab.status("m01")?["rotation"] as? [String: Any])?["count"] as? Int == 1 && lab.phase("m01") == "Ready" }
        lab.stopDaemon()
        #expect(try lab.download(1, bytes: 2_000_000), "the proxy serves while no daemon runs")
        try lab.startDaemon()
        try lab.waitUntil("m01 counted the download made while no daemon ran", timeout: .seconds(15)) {
            (Self.traffic(lab, "m01")?.receive ?? 0) >= counted.receive + 2_000_000
        }
        // The proxy's counts came through the rotation and the restart: still over quota, still refused.
        let small = try #require(Self.user(lab, "m01", Self.quotaUser))
        #expect(small["overQuota"] as? Bool == true && (small["quotaUsedBytes"] as? NSNumber)?.uint64Value ?? 0 >= 1 << 20, "\(small)")
        #expect(try Self.fetch(lab, socks: false, bytes: 1000).code == "503")
        #expect(try Self.fetch(lab, socks: true, bytes: 1000).exit == 97, "SOCKS5 refused (curl: can't complete SOCKS5 connection)")

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

    /// `small` (1 MB per day) passes 2 × 400 kB by HTTP; a third is refused at once (its length
    /// would pass the quota: 503), a SOCKS download is cut where the quota ends, then HTTP (503) and
    /// SOCKS (reply 2) refuse `small` while `lab` downloads on. A quota change for `lab` is a plan
    /// of one reload (3proxy writes its counter file then, as it does each minute); after it the
    /// counts are the same, the status shows `small` over quota and `lab`'s bytes.
    static func quotaCutsOff(_ lab: EndToEndLab, farmFile: String) throws {
        for _ in 0..<2 { #expect(try fetch(lab, socks: false, bytes: 400_000) == ("200", 400_000, 0)) }
        #expect(try fetch(lab, socks: false, bytes: 400_000) == ("503", 151, 0), "3proxy's \"You have exceeded your limits\"")
        let cut = try fetch(lab, socks: true, bytes: 400_000)
        #expect(cut.exit == 18 && cut.size < 400_000, "the SOCKS download ends where the quota does: \(cut)")
        #expect(try fetch(lab, socks: false, bytes: 1000).code == "503")
        #expect(try fetch(lab, socks: true, bytes: 1000).exit == 97)
        #expect(try lab.download(1, bytes: 1_500_000), "another user is not cut off")

        // No daemon while the plan is read: it would apply the change first.
        lab.stopDaemon()
        let farm = try String(contentsOfFile: farmFile, encoding: .utf8)
        try farm.replacingOccurrences(of: "  lab: { password: { file: secrets/lab } }\n", with: "  lab: { password: { file: secrets/lab }, quota: 10GB per month }\n")
            .write(toFile: farmFile, atomically: true, encoding: .utf8)
        let plan = try lab.reconcile("--dry-run")
        #expect(plan.status == 2 && plan.stdout.contains("reload") && plan.stdout.contains("user lab's quota changed")
                && plan.stdout.contains("0 to restart"), "\(plan.stdout)")
        #expect(try lab.reconcile().status == 0)
        try lab.startDaemon()
        try lab.waitUntil("the status shows small over quota and lab's bytes", timeout: .seconds(30)) {
            let small = user(lab, "m01", quotaUser)
            let other = user(lab, "m01", "lab")
            return small?["overQuota"] as? Bool == true && (other?["receive"] as? NSNumber)?.uint64Value ?? 0 >= 1_500_000
                && other?["quota"] as? String == "10GB per month"
        }
        let small = try #require(user(lab, "m01", quotaUser))
        #expect((small["receive"] as? NSNumber)?.uint64Value ?? 0 >= 1 << 20 && small["quotaRemainingBytes"] as? NSNumber == 0, "\(small)")
        #expect(user(lab, "m02", quotaUser)?["overQuota"] as? Bool == false, "the quota is per modem")
        #expect(try fetch(lab, socks: false, bytes: 1000).code == "503", "after the reload, still refused")
        let status = try lab.reconcile("status")
        #expect(status.stdout.contains("m01 small: ") && status.stdout.contains("of 1MB per day used; OVER QUOTA"), "\(status.stdout)")
        let metrics = try String(contentsOfFile: lab.state + "/status/metrics.prom", encoding: .utf8)
        #expect(metrics.contains("proxyfarm_user_over_quota{modem=\"m01\",user=\"small\"} 1"), "\(metrics)")
    }

    /// A request as `small` through m01's HTTP or SOCKS port: the HTTP code, the bytes received, curl's exit status.
    static func fetch(_ lab: EndToEndLab, socks: Bool, bytes: Int) throws -> (code: String, size: Int, exit: Int32) {
        let proxy = socks ? "socks5://\(quotaUser):\(quotaPassword)@127.0.0.1:20012" : "http://\(quotaUser):\(quotaPassword)@127.0.0.1:20011"
        let result = try Subprocess.inNamespace(lab.farm, "curl", "-sS", "-m", "20", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                                "-x", proxy, "http://198.51.100.10/bytes/\(bytes)")
        let words = result.stdout.split(separator: " ")
        return (words.first.map(String.init) ?? "", words.last.flatMap { Int($0) } ?? -1, result.status)
    }

    static func user(_ lab: EndToEndLab, _ modem: String, _ name: String) -> [String: Any]? {
        (lab.status(modem)?["users"] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }

    static func traffic(_ lab: EndToEndLab, _ modem: String) -> (receive: UInt64, transmit: UInt64)? {
        guard let traffic = lab.status(modem)?["traffic"] as? [String: Any],
              let receive = (traffic["receive"] as? NSNumber)?.uint64Value, let transmit = (traffic["transmit"] as? NSNumber)?.uint64Value else { return nil }
        return (receive, transmit)
    }
}
