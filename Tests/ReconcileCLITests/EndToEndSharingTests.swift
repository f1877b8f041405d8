import Foundation
import Testing

/// Many processes on one farm (issue 12): next to a running daemon, one-shot passes (refused by
/// the lock), dry runs, `discover`, `status` and SIGKILLed runs. No modem leaves Ready, the
/// modems' client-id tables stay bounded, and the daemon's scheduled rotation and a filed request
/// both happen. `PROXYFARM_STRESS_ROUNDS` scales it (the issue's full size: 50 rounds, with 4
/// one-shot passes per round).
@Suite struct EndToEndSharingTests {
    static let rounds = Int(ProcessInfo.processInfo.environment["PROXYFARM_STRESS_ROUNDS"] ?? "") ?? 4

    @Test("many processes beside a running daemon: modems stay Ready, client ids bounded, rotations and requests happen",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func manyProcessesBesideADaemon() throws {
        let lab = try EndToEndLab(modems: 2, rotateEvery: "15s")
        defer { lab.down() }
        // Every subcommand finds the lab's farm, and an explicit --file still wins.
        try lab.prepareFarm()
        let validate = try lab.reconcile("validate")
        #expect(validate.status == 0 && validate.stdout.contains("valid — 2 modems"), "\(validate.stderr)")
        let elsewhere = try lab.reconcile("--dry-run", "--file", lab.directory + "/no-such-farm.yaml")
        #expect(elsewhere.status == 1 && elsewhere.stderr.contains("no farm at \(lab.directory)/no-such-farm.yaml"), "\(elsewhere.stderr)")
        try lab.startDaemon()
        try lab.waitUntil("all Ready", timeout: .seconds(60)) { lab.allReady() }
        let scheduledBefore = rotations(lab, "m02")
        for round in 0..<Self.rounds {
            for _ in 0..<4 {
                let pass = try lab.reconcile()
                #expect(pass.status == 1 && pass.stderr.contains("held by another reconciler (pid "), "round \(round): \(pass.stderr)")
            }
            let plan = try lab.reconcile("--dry-run")
            #expect(plan.status == 0 || plan.status == 2, "round \(round): \(plan.stderr)")
            let discover = try lab.reconcile("discover", "--output", "json")
            #expect(discover.status == 0 && discover.stdout.contains("\"imei\" : \"35907206000000"), "round \(round): \(discover.stdout)")
            #expect(try lab.reconcile("status").status == 0)
            let killed = try lab.spawn(round.isMultiple(of: 2) ? ["--dry-run"] : ["discover"])
            // Where the kill lands is the test's randomness; the message names it for a replay.
            let delay = UInt32.random(in: 50_000...400_000)
            usleep(delay)
            kill(killed.processIdentifier, SIGKILL)
            Subprocess.reap(killed)
            #expect(lab.allReady(), "round \(round), killed after \(delay) µs: \(lab.modemNames.map { "\($0) \(lab.phase($0) ?? "?")" })")
        }
        let filed = try lab.reconcile("rotate", "m01")
        #expect(filed.status == 0, "\(filed.stderr)")
        try lab.waitUntil("the requested rotation of m01", timeout: .seconds(30)) { rotations(lab, "m01") >= 1 && lab.allReady() }
        try lab.waitUntil("a scheduled rotation of m02", timeout: .seconds(40)) { rotations(lab, "m02") > scheduledBefore && lab.allReady() }
        #expect(!lab.daemonLog.contains("ClientIdsExhausted"))
        for node in 0..<2 {
            let inUse = try clientIDsInUse(lab, node: node)
            #expect(inUse <= 2, "cdc-wdm\(node): \(inUse) DMS client ids held (the daemon's one, perhaps one in flight)")
        }
        #expect(rotations(lab, "m01") == 1, "the request was acted on once")
        let ledgers = (try? FileManager.default.contentsOfDirectory(atPath: lab.state + "/run/qmi-clients")) ?? []
        #expect(ledgers.count <= 1 + Self.rounds, "the daemon's, and at most one per SIGKILLed run: \(ledgers.count)")
    }

    private func rotations(_ lab: EndToEndLab, _ modem: String) -> Int {
        (lab.status(modem)?["rotation"] as? [String: Any])?["count"] as? Int ?? 0
    }

    /// DMS client ids the modem holds: 16 minus how many more qmicli can take (through qmi-proxy,
    /// in the lab's namespace and testbed); the ones taken are released again.
    private func clientIDsInUse(_ lab: EndToEndLab, node: Int) throws -> Int {
        // The lab's modems exist in the lab host's mount namespace (and the farm's network namespace).
        let host = try String(contentsOfFile: lab.directory + "/labhost.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let qmicli = ["nsenter", "--target", host, "--mount", "--net", "qmicli", "-p", "-d", "/dev/cdc-wdm\(node)", "--device-open-qmi"]
        var taken: [String] = []
        for _ in 0..<17 {
            let run = try Subprocess.run("/usr/bin/env", qmicli + ["--dms-noop", "--client-no-release-cid"])
            guard run.status == 0, let cid = run.stdout.firstMatch(of: /CID: '(\d+)'/)?.1 else { break }
            taken.append(String(cid))
        }
        for cid in taken {
            _ = try Subprocess.run("/usr/bin/env", qmicli + ["--dms-noop", "--client-cid=\(cid)"])
        }
        return 16 - taken.count
    }
}
