import Foundation
import Testing

/// `reconcile status` and `reconcile rotate --now` against a simulated farm, no daemon running.
@Suite struct StatusCommandTests {
    static func convergedFarm() throws -> String {
        let directory = try DaemonTests.scratch()
        let apply = try Subprocess.run(try Subprocess.reconcile, ["--simulated"], in: directory)
        try #require(apply.status == 0, "\(apply.stderr)")
        return directory
    }

    @Test func statusPrintsTheFarmLineAndATableOfModems() throws {
        let directory = try Self.convergedFarm()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let status = try Subprocess.run(try Subprocess.reconcile, ["status"], in: directory)

        #expect(status.status == 0, "\(status.stderr)")
        let lines = status.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("farm: revision sha256:"), "\(status.stdout)")
        #expect(lines[0].contains("converged), 2 modems: 2 Ready"), "\(lines[0])")
        #expect(lines.contains { $0.hasPrefix("NAME") && $0.contains("PHASE") && $0.contains("SIGNAL") && $0.contains("LAST ROTATION") })
        let m01 = try #require(lines.first { $0.hasPrefix("m01") })
        #expect(m01.split(separator: " ", omittingEmptySubsequences: true).map(String.init).prefix(4) == ["m01", "Ready", "100.64.1.10", "-90"], "\(m01)")
        #expect(m01.contains("21000/21001") && m01.hasSuffix("never"), "\(m01)")
    }

    @Test func statusAsJSONHoldsTheFarmAndEveryModem() throws {
        let directory = try Self.convergedFarm()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let status = try Subprocess.run(try Subprocess.reconcile, ["status", "--output", "json"], in: directory)

        #expect(status.status == 0, "\(status.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect((document["farm"] as? [String: Any])?["modems"] as? Int == 2)
        let modems = try #require(document["modems"] as? [[String: Any]])
        #expect(modems.map { $0["name"] as? String } == ["m01", "m02"])
        #expect(modems.allSatisfy { $0["phase"] as? String == "Ready" })
    }

    @Test func statusWithoutStatusFilesSaysSoAndFails() throws {
        let state = NSTemporaryDirectory() + "pf\(getpid())-nostatus-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }

        let status = try Subprocess.run(try Subprocess.reconcile, ["status", "--state", state])

        #expect(status.status == 1)
        #expect(status.stderr.contains("reconcile: no status in \(state)/status: run `reconcile` or `reconcile daemon`"), "\(status.stderr)")
    }

    @Test func rotateNowWithoutADaemonRotatesInProcessAndShowsTheNewAddress() throws {
        let directory = try Self.convergedFarm()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let rotate = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m02", "--now", "--simulated"], in: directory)

        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(rotate.stdout == "m02: rotated: 100.64.2.10 → 100.64.2.11\n", "\(rotate.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/state/requests").isEmpty)
        let status = try Subprocess.run(try Subprocess.reconcile, ["status", "--output", "json"], in: directory)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let m02 = try #require((document["modems"] as? [[String: Any]])?.first { $0["name"] as? String == "m02" })
        #expect((m02["rotation"] as? [String: Any])?["count"] as? Int == 1)
        #expect((m02["rotation"] as? [String: Any])?["lastKeptSameAddress"] as? Bool == false)
    }

    @Test func rotateNowOfAnUnknownModemFilesNothing() throws {
        let directory = try Self.convergedFarm()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let rotate = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m07", "--now", "--simulated"], in: directory)

        #expect(rotate.status == 1)
        #expect(rotate.stderr.contains("farm.yaml lists no modem m07"), "\(rotate.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/state/requests").isEmpty)
    }
}
