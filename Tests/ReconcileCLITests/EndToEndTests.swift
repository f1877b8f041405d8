import Foundation
import Testing

/// Issue 8's end-to-end checks: the real `reconcile` (daemon and passes) in a lab of network
/// namespaces, simulated QMI modems behind a umockdev testbed, real proxies, real routing.
@Suite(.serialized) struct EndToEndTests {
    @Test("cold start: 6 modems (SIM PIN, no USB serial) all Ready in one daemon run, each egressing from its own address",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func coldStart() throws {
        let lab = try EndToEndLab(modems: 6)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all 6 modems Ready") { lab.allReady() }

        for (index, modem) in lab.modemNames.enumerated() {
            let address = try #require(lab.address(modem))
            #expect(address.hasPrefix("100.64.\(index + 1)."), "\(modem) got \(address) outside its carrier's pool")
            #expect(try lab.egress(index + 1) == address, "\(modem)'s proxy must egress from \(modem)'s own address")
        }
        let rules = try lab.rules()
        #expect(Set(rules).count == rules.count, "no duplicate rules:\n\(rules.joined(separator: "\n"))")
        // Per modem one `uidrange … lookup T` and, for each of its two proxy ports, one reply rule.
        #expect(rules.filter { $0.contains("uidrange") && !$0.contains("sport") }.count == 6)
        #expect(rules.filter { $0.contains("uidrange") && $0.contains("sport") && $0.hasSuffix("lookup main") }.count == 12)
        #expect(try lab.proxyProcesses().mapValues(\.count) == Dictionary(uniqueKeysWithValues: lab.modemNames.map { ($0, 1) }))
    }

    @Test("`reconcile rotate m02` makes the daemon rotate m02: a new egress IP through its proxy, same proxy process",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func rotationOnDemand() throws {
        let lab = try EndToEndLab(modems: 3)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let before = try #require(try lab.egress(2))
        let proxy = lab.proxyPid("m02")

        let request = try lab.reconcile("rotate", "m02")
        #expect(request.status == 0, "rotate failed: \(request.stderr)")
        try lab.waitUntil("m02 rotated to a new address") { lab.address("m02").map { $0 != before } ?? false && lab.phase("m02") == "Ready" }
        let after = try #require(lab.address("m02"))
        #expect(try lab.egress(2) == after)
        #expect(after.hasPrefix("100.64.2."))
        #expect(lab.proxyPid("m02") == proxy, "rotation keeps the proxy (DESIGN §7)")
        #expect((lab.status("m02")?["rotation"] as? [String: Any])?["count"] as? Int == 1)
    }

    @Test("`reconcile rotate m02 --now` without a daemon rotates in-process: a new egress IP through the proxy",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func rotationNowWithoutDaemon() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        let pass = try lab.reconcile()
        try #require(pass.status == 0, "cold pass failed: \(pass.stderr)")
        let before = try #require(try lab.egress(2))

        let rotate = try lab.reconcile("rotate", "m02", "--now")
        #expect(rotate.status == 0, "rotate --now failed: \(rotate.stdout) \(rotate.stderr)")
        let after = try #require(lab.address("m02"))
        #expect(after != before)
        #expect(try lab.egress(2) == after)
        #expect(try lab.egress(1) == lab.address("m01"))
    }

    @Test("hot-plug: an unplugged modem goes Missing (proxy stopped, lane closed, others undisturbed) and comes back with its ports and uid",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func hotPlug() throws {
        let lab = try EndToEndLab(modems: 3)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let pids = lab.modemNames.map(lab.proxyPid)
        let uid = lab.status("m03")?["uid"] as? Int
        let allocations = try String(contentsOfFile: lab.state + "/allocations.json", encoding: .utf8)
        let m03Table = try #require(try lab.rules().first { $0.contains("oif wwan3") }?.split(separator: " ").last.map(String.init))
        let m03Uid = try #require(uid)
        let others = try lab.rules().filter { !$0.hasSuffix("lookup \(m03Table)") && !$0.contains("uidrange \(m03Uid)-\(m03Uid) ") }

        let unplug = try lab.lab("unplug", "3")
        try #require(unplug.status == 0, "unplug failed: \(unplug.stderr)")
        let again = try lab.lab("unplug", "3")
        #expect(again.status != 0 && again.stderr.contains("modem 3 is not plugged"), "\(again.stderr)")
        try lab.waitUntil("m03 Missing") { lab.phase("m03") == "Missing" }
        try lab.waitUntil("m03's proxy stopped") { try lab.proxyProcesses()["m03"] == nil }
        // Its lane stays closed: only the uid rule is left in its table, and its guard lets nothing out.
        try lab.waitUntil("m03's oif and from rules removed") {
            try lab.rules().filter { $0.hasSuffix("lookup \(m03Table)") } == ["\(m03Table):\tfrom all uidrange \(m03Uid)-\(m03Uid) lookup \(m03Table)"]
        }
        let guardLane = try Subprocess.run("/usr/sbin/ip", ["netns", "exec", lab.farm, "nft", "list", "chain", "inet", "proxyfarm", "lane_\(m03Uid)"])
        #expect(!guardLane.stdout.contains("oifname") && guardLane.stdout.contains("counter"), "\(guardLane.stdout)")
        #expect(try lab.rules().filter { !$0.hasSuffix("lookup \(m03Table)") && !$0.contains("uidrange \(m03Uid)-\(m03Uid) ") } == others,
                "the other modems' rules are untouched")
        #expect(lab.proxyPid("m01") == pids[0] && lab.proxyPid("m02") == pids[1], "the other proxies keep running")
        #expect(try lab.egress(1) == lab.address("m01"))

        let plug = try lab.lab("plug", "3")
        try #require(plug.status == 0, "plug failed: \(plug.stderr)")
        try lab.waitUntil("m03 Ready again") { lab.phase("m03") == "Ready" }
        #expect(lab.status("m03")?["httpPort"] as? Int == 20031)
        #expect(lab.status("m03")?["uid"] as? Int == uid)
        #expect(try String(contentsOfFile: lab.state + "/allocations.json", encoding: .utf8) == allocations)
        #expect(try lab.egress(3) == lab.address("m03"))
        #expect(lab.proxyPid("m01") == pids[0] && lab.proxyPid("m02") == pids[1])
        #expect(!lab.daemonLog.contains("a proxy exited"), "a proxy the daemon stopped itself woke a pass")
    }

    @Test("a killed proxy is back after one pass — under the daemon at once, its exit waking the pass — and nobody else is disturbed",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"), arguments: [false, true])
    func killedProxyComesBack(underTheDaemon: Bool) throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        if underTheDaemon {
            try lab.startDaemon()
            try lab.waitUntil("all Ready") { lab.allReady() }
        } else {
            let first = try lab.reconcile()
            try #require(first.status == 0, "cold pass failed: \(first.stderr)")
        }
        let victim = try #require(lab.proxyPid("m02"))
        let bystander = lab.proxyPid("m01")
        kill(victim, SIGKILL)
        if underTheDaemon {
            try lab.waitForPass(wokenBy: "a proxy exited")
            try lab.expectDaemonAlive()
        } else {
            try lab.waitUntil("the killed proxy is gone") { try lab.proxyProcesses()["m02"] == nil }
            let pass = try lab.reconcile()
            #expect(pass.status == 0, "the pass did not converge: \(pass.stderr)")
        }
        #expect(lab.proxyPid("m02") != victim)
        #expect(try lab.proxyProcesses()["m02"]?.count == 1)
        #expect(lab.proxyPid("m01") == bystander)
        #expect(try lab.egress(2) == lab.address("m02"))
    }

    @Test("nftables flushed and a modem's rule deleted under the daemon are put back at once: the kernel's change wakes a pass",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func daemonPutsBackWhatWasRemovedAtOnce() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let converged = try lab.rules()
        let before = lab.daemonLog.count
        let fromRule = try #require(converged.first { $0.contains("from 100.64.2.") })
        let (priority, selector) = (fromRule.prefix { $0 != ":" }, fromRule.drop { $0 != "\t" }.dropFirst())
        let deleted = try Subprocess.run("/usr/bin/env", ["ip", "-n", lab.farm, "rule", "del", "priority", String(priority)] + selector.split(separator: " ").map(String.init))
        #expect(deleted.status == 0, "\(deleted.stderr)")
        _ = try lab.inFarm("nft", "flush", "ruleset")

        try lab.waitForPass(wokenBy: "routing or nftables changed", after: before)
        try lab.expectDaemonAlive()
        #expect(try lab.rules() == converged)
        #expect(try lab.inFarm("nft", "list", "table", "inet", "proxyfarm").stdout.contains("skuid"))
        #expect(try lab.egress(2) == lab.address("m02"))
    }

    @Test("carrier drops traffic: requests fail closed (never via the uplink), health fails, the modem is reset, and Ready once traffic flows",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func carrierOutageFailsClosedAndRecovers() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }

        try Subprocess.ip("-n", lab.inet, "link", "set", "carrier1", "down")
        #expect(try lab.egress(1) == nil, "with its carrier down m01's proxy must not reach the internet at all")
        try lab.waitUntil("m01 reset after failed probes", timeout: .seconds(40)) {
            ((lab.status("m01")?["health"] as? [String: Any])?["resets"] as? Int ?? 0) >= 1
        }
        try Subprocess.ip("-n", lab.inet, "link", "set", "carrier1", "up")
        try lab.waitUntil("m01 healthy again", timeout: .seconds(40)) {
            lab.phase("m01") == "Ready" && ((lab.status("m01")?["health"] as? [String: Any])?["consecutiveFailures"] as? Int) == 0
        }
        #expect(try lab.egress(1) == lab.address("m01"))
        #expect(lab.phase("m02") == "Ready")
    }

    @Test("a modem that stops answering QMI leaves Ready without disturbing the others, and is Ready again once it answers",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func hungModemRecovers() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let bystander = lab.proxyPid("m02")

        #expect(try lab.lab("fault", "1", "no-answer").status == 0)
        try lab.waitUntil("m01 seen as not answering") { lab.phase("m01") != nil && lab.phase("m01") != "Ready" }
        let conditions = lab.status("m01")?["conditions"] as? [[String: Any]] ?? []
        #expect(conditions.contains { $0["type"] as? String == "SimReady" && $0["status"] as? String != "True" })
        #expect(lab.phase("m02") == "Ready" && lab.proxyPid("m02") == bystander)

        #expect(try lab.lab("fault", "1", "none").status == 0)
        try lab.waitUntil("m01 Ready again") { lab.phase("m01") == "Ready" }
        #expect(try lab.egress(1) == lab.address("m01"))
        #expect(lab.proxyPid("m02") == bystander)
    }

    @Test("`reconcile lab demo`: each modem's egress is its own, one rotation, the lab gone afterwards, no password printed",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func demo() throws {
        try #require(geteuid() == 0, "the demo needs root")
        let name = "pf\(getpid())d"
        let run = try Subprocess.run(try Subprocess.reconcile, ["lab", "demo", "--name", name])
        defer { _ = try? Subprocess.run(try Subprocess.reconcile, ["lab", "down", "--name", name]) }
        #expect(run.status == 0, "demo failed:\n\(run.stdout)\n\(run.stderr)")
        for modem in 1...3 {
            #expect(run.stdout.contains("m0\(modem) (proxy port \(20000 + 10 * modem + 1)): 100.64.\(modem)."), "\(run.stdout)")
        }
        #expect(run.stdout.contains("egress through m03's proxy now: 100.64.3."))
        #expect(run.stdout.contains("m01   Ready"))
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(name)-farm"), "the demo tears its lab down")
        // The lab password is 24 hex digits (secrets/lab, gone with the lab): nothing like it is printed.
        let secretShaped = try NSRegularExpression(pattern: "(?<![0-9a-f])[0-9a-f]{24}(?![0-9a-f])")
        for text in [run.stdout, run.stderr] {
            #expect(secretShaped.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil)
        }
    }

    @Test("farm.yaml edits (rename-over like an editor, and in place) are applied by the daemon within 2 s",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func daemonAppliesEdits() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }

        let farmFile = lab.directory + "/farm.yaml"
        let edited = try String(contentsOfFile: farmFile, encoding: .utf8).replacingOccurrences(of: "http: 20021", with: "http: 20029")
        try edited.write(toFile: farmFile + ".swp", atomically: false, encoding: .utf8)
        let saved = ContinuousClock.now
        try #require(rename(farmFile + ".swp", farmFile) == 0)
        try lab.waitUntil("m02 on its new port", timeout: .seconds(2)) { lab.status("m02")?["httpPort"] as? Int == 20029 }
        #expect(ContinuousClock.now - saved < .seconds(2))
        let probe = try Subprocess.inNamespace(lab.farm, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3",
                                               "http://127.0.0.1:20029/")
        #expect(probe.stdout != "000", "the proxy answers on the new port")

        // Written in place (truncate and write, like `echo >`): back to the first port.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: farmFile))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(edited.replacingOccurrences(of: "http: 20029", with: "http: 20021").utf8))
        try handle.close()
        let rewritten = ContinuousClock.now
        try lab.waitUntil("m02 back on its first port", timeout: .seconds(2)) { lab.status("m02")?["httpPort"] as? Int == 20021 }
        #expect(ContinuousClock.now - rewritten < .seconds(2))
    }
}

/// `reconcile discover` against the lab's simulated modems: the IMEI and SIM state come from the
/// simulators over real libqmi, and the modem without a USB serial is known by its IMEI.
@Suite struct EndToEndDiscoverTests {
    @Test("discover shows every lab modem's IMEI and SIM, and finds the one without a USB serial in farm.yaml by IMEI",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func discoverReadsIdentitiesOverQMI() throws {
        let lab = try EndToEndLab(modems: 3)
        defer { lab.down() }
        try lab.prepareFarm()
        // Inside the lab (its namespaces, its simulated hardware), finding the lab's farm.yaml as
        // every subcommand does (issue 12: `lab run -- discover` used to fail on --state).
        let run = try lab.reconcile("discover", "--output", "json")
        #expect(run.status == 0, "\(run.stderr)")
        let modems = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]], "\(run.stdout)")
        #expect(modems.count == 3)
        #expect(modems.allSatisfy { ($0["imei"] as? String)?.count == 15 }, "\(run.stdout)")
        #expect(Set(modems.compactMap { $0["imei"] as? String }).count == 3)
        #expect(modems.compactMap { $0["sim"] as? String }.sorted() == ["pinRequired", "ready", "ready"], "\(run.stdout)")
        #expect(modems.allSatisfy { $0["inFarmFile"] as? Bool == true }, "\(run.stdout)")
        #expect(modems.contains { $0["usbSerial"] == nil }, "one lab modem has no USB serial")
    }
}
