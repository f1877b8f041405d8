import Foundation
import Testing

/// The daemon and farm.yaml over time (issue 8): a git checkout of another revision is applied
/// within 2 s and recorded, a typo keeps the last valid spec serving, and a rotation schedule
/// changes the egress IP by itself.
@Suite(.serialized) struct EndToEndSpecTests {
    @Test("git checkout of another revision is applied within 2 s and status names its commit; a typo keeps the last valid spec serving",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func gitRevisionsAndTypos() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.prepareFarm()
        let farmFile = lab.directory + "/farm.yaml"
        let original = try String(contentsOfFile: farmFile, encoding: .utf8)
        let first = try commit(original, in: lab.directory, message: "first")
        let second = try commit(original.replacingOccurrences(of: "http: 20021", with: "http: 20028"), in: lab.directory, message: "second")

        try lab.startDaemon()
        try lab.waitUntil("all Ready on the second revision") {
            lab.allReady() && lab.farmStatus()?["specRevision"] as? String == second
        }
        #expect(lab.status("m02")?["httpPort"] as? Int == 20028)

        try git(["checkout", "-q", "--detach", first], in: lab.directory)
        let checkedOut = ContinuousClock.now
        try lab.waitUntil("the first revision in force", timeout: .seconds(2)) {
            lab.farmStatus()?["specRevision"] as? String == first && lab.status("m02")?["httpPort"] as? Int == 20021
        }
        #expect(ContinuousClock.now - checkedOut < .seconds(2))
        let pids = lab.modemNames.map(lab.proxyPid)

        // Written in place, with a key the schema does not know on line 3.
        let typo = original.replacingOccurrences(of: "defaults:\n  apn: internet", with: "defaults:\n  apm: internet")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: farmFile))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(typo.utf8))
        try handle.close()
        try lab.waitUntil("the typo reported in status", timeout: .seconds(5)) {
            (lab.farmStatus()?["specErrors"] as? [String])?.contains { $0.contains("farm.yaml:4:3") } ?? false
        }
        #expect(lab.farmStatus()?["specRevision"] as? String == first, "the last valid spec stays in force")
        #expect(lab.modemNames.map(lab.proxyPid) == pids, "nothing is torn down because of a typo")
        #expect(lab.allReady())
        #expect(try lab.egress(2) == lab.address("m02"))
    }

    @Test("a rotation schedule (every 15s) changes the egress IP seen through the proxy by itself",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func scheduledRotation() throws {
        let lab = try EndToEndLab(modems: 2, rotateEvery: "15s")
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let before = try #require(try lab.egress(2))
        try lab.waitUntil("m02 rotated on schedule", timeout: .seconds(30)) {
            ((lab.status("m02")?["rotation"] as? [String: Any])?["count"] as? Int ?? 0) >= 1 && lab.phase("m02") == "Ready"
        }
        let after = try #require(lab.address("m02"))
        #expect(after != before)
        #expect(try lab.egress(2) == after)
        #expect((lab.status("m01")?["rotation"] as? [String: Any])?["count"] as? Int == 0, "m01 has no schedule")
    }

    private func commit(_ text: String, in directory: String, message: String) throws -> String {
        if !FileManager.default.fileExists(atPath: directory + "/.git") {
            try git(["init", "-q"], in: directory)
        }
        try text.write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        try git(["add", "farm.yaml"], in: directory)
        try git(["-c", "user.name=lab", "-c", "user.email=lab@example.invalid", "commit", "-q", "-m", message], in: directory)
        return try git(["rev-parse", "HEAD"], in: directory)
    }

    @discardableResult
    private func git(_ arguments: [String], in directory: String) throws -> String {
        let result = try Subprocess.run("/usr/bin/env", ["git", "-C", directory] + arguments)
        try #require(result.status == 0, "git \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
