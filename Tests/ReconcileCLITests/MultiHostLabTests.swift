import Foundation
import Testing

/// Issue 16's lab checks on one two-host lab (three modems each) behind a real HAProxy gateway, in
/// order: every entry port egresses through its own modem; a hung and an unplugged modem are
/// refused at their entry ports and come back; a gateway reload drops none of 50 downloads; a modem
/// moved to the other host keeps its entry ports; a refused git pull keeps the host serving and says so.
@Suite(.serialized) struct MultiHostLabTests {
    static let requirement = "needs root, haproxy, git, nsenter, curl and iproute2 (runs and fails without them when CI=true)"
    static let canRun = EndToEndLab.canRun

    @Test("two hosts behind one gateway: egress, faults, reload under load, a moved modem, a refused pull",
          .enabled(if: canRun, "\(requirement)"))
    func twoHostsBehindTheGateway() throws {
        let lab = try MultiHostLab(hosts: 2, modemsPerHost: 3)
        defer { lab.down() }
        try lab.waitUntil("all six modems Ready and in service at the gateway", timeout: .seconds(90)) { try lab.allInService(1...6) }

        try everyEntryPortEgressesThroughItsModem(lab)
        try reloadDropsNoDownload(lab)
        try faultsAreRefusedAndRecover(lab)
        try movedModemKeepsItsEntryPorts(lab)
        try refusedPullKeepsServingAndSaysSo(lab)
    }

    /// HTTP and SOCKS through each modem's entry ports leave through that modem; status --farm shows all six.
    func everyEntryPortEgressesThroughItsModem(_ lab: MultiHostLab) throws {
        for modem in 1...6 {
            let entry = try lab.entry(modem)
            #expect(entry.host == lab.host(ofModem: modem))
            let own = try #require(lab.address(modem))
            #expect(try lab.throughGateway(port: entry.http) == own, "m0\(modem) HTTP entry \(entry.http)")
            #expect(try lab.throughGateway(port: entry.socks, socks: true) == own, "m0\(modem) SOCKS entry \(entry.socks)")
        }
        let farm = try lab.run(on: "gateway", "status", "--farm")
        #expect(farm.status == 0, "status --farm: \(farm.stdout)\(farm.stderr)")
        for modem in 1...6 {
            #expect(farm.stdout.split(separator: "\n").contains {
                $0.hasPrefix(lab.host(ofModem: modem)) && $0.contains("m0\(modem)") && $0.contains("Ready")
            }, "status --farm:\n\(farm.stdout)")
        }
        let plain = try lab.run(on: "gateway", "status")
        #expect(plain.status == 0 && plain.stdout.contains("MODEM  HOST    HTTP   SOCKS  HAPROXY"), "plain status on the gateway:\n\(plain.stdout)\(plain.stderr)")
    }

    /// m05 hung and m06 unplugged on host-2: refused at their entry ports (never another modem's
    /// address) soon after their host stops calling them Ready; the others keep working; both
    /// come back by themselves.
    func faultsAreRefusedAndRecover(_ lab: MultiHostLab) throws {
        let hung = try lab.entry(5), unplugged = try lab.entry(6)
        try #require(try lab.lab("fault", "5", "no-answer", "--host", "host-2").status == 0)
        try #require(try lab.lab("unplug", "6", "--host", "host-2").status == 0)
        for (modem, entry) in [(5, hung), (6, unplugged)] {
            try lab.waitUntil("m0\(modem) no longer Ready on host-2") { lab.phase(modem) != "Ready" }
            let noticed = ContinuousClock.now
            // Two failed checks 1 s apart take it out of service; a check in flight and a pass add at most ~3 s.
            let bound = Duration.seconds(6)
            var refused = false
            while !refused && ContinuousClock.now - noticed < bound + .seconds(5) {
                let answer = try lab.throughGateway(port: entry.http)
                #expect(answer == nil || answer?.hasPrefix("100.64.\(modem).") == true, "m0\(modem)'s entry port answered \(answer ?? "")")
                refused = answer == nil
            }
            #expect(refused && ContinuousClock.now - noticed < bound, "m0\(modem) refused at its entry port only after \(ContinuousClock.now - noticed)")
        }
        let farm = try lab.run(on: "gateway", "status", "--farm")
        #expect(farm.status == 3, "status --farm must not say fine while two modems are out: \(farm.stdout)")
        for modem in 1...4 {
            #expect(try lab.throughGateway(port: lab.entry(modem).http) == lab.address(modem), "m0\(modem) kept working")
        }
        try #require(try lab.lab("fault", "5", "none", "--host", "host-2").status == 0)
        try #require(try lab.lab("plug", "6", "--host", "host-2").status == 0)
        // Back when HAProxy's checks say so (gateway.json lags by up to a gateway pass): nothing but
        // each modem's own address answers meanwhile.
        try lab.waitUntil("m05 and m06 answering at their entry ports again", timeout: .seconds(90)) {
            try [5, 6].allSatisfy { modem in
                guard lab.phase(modem) == "Ready", let own = lab.address(modem) else { return false }
                let answers = [try lab.throughGateway(port: lab.entry(modem).http), try lab.throughGateway(port: lab.entry(modem).socks, socks: true)]
                #expect(answers.allSatisfy { $0 == nil || $0 == own }, "m0\(modem)'s entry ports answered \(answers)")
                return answers.allSatisfy { $0 == own }
            }
        }
    }

    /// 50 downloads through the entry ports while a farm.yaml change makes the gateway reload:
    /// every one completes with all its bytes.
    func reloadDropsNoDownload(_ lab: MultiHostLab) throws {
        let bytes = 1_048_576
        let ports = try (1...6).map { try lab.entry($0).http }
        let output = lab.directory + "/downloads"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        // Python waits for its curls with waitpid: a shell's `wait` sleeps for SIGCHLD, which a child of
        // the test runner inherits blocked.
        let script = """
            import os, subprocess, sys
            output, ports = sys.argv[1], sys.argv[2:]
            curls = [subprocess.Popen(["curl", "-sS", "-m", "60", "--interface", "\(MultiHostLab.customer)", "--limit-rate", "200k",
                                       "-o", "/dev/null", "-w", "%{size_download}", "-x", f"http://lab:{os.environ['PASSWORD']}@\(MultiHostLab.gateway):{ports[i % len(ports)]}",
                                       "http://198.51.100.10/bytes/\(bytes)"], stdout=open(f"{output}/{i}", "w"), stderr=subprocess.STDOUT)
                     for i in range(50)]
            for curl in curls: curl.wait()
            """
        let downloads = Process()
        downloads.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        downloads.arguments = ["ip", "netns", "exec", lab.name + "-inet", "python3", "-c", script, output] + ports.map(String.init)
        downloads.environment = ["PASSWORD": try lab.password, "PATH": "/usr/bin:/bin"]
        let before = lab.gatewayStatus().revision
        try downloads.run()
        usleep(1_500_000)
        let farm = try String(contentsOfFile: lab.farmFile, encoding: .utf8)
        try farm.replacingOccurrences(of: "checkInterval: 1s", with: "checkInterval: 2s").write(toFile: lab.farmFile, atomically: true, encoding: .utf8)
        try lab.waitUntil("the gateway reloaded with the new farm.yaml", timeout: .seconds(20)) { lab.gatewayStatus().revision != before }
        #expect(downloads.isRunning, "the reload came after the downloads ended: the test proved nothing")
        downloads.waitUntilExit()
        let sizes = (0..<50).map { (try? String(contentsOfFile: "\(output)/\($0)", encoding: .utf8)) ?? "" }
        let incomplete = sizes.enumerated().filter { $0.element != String(bytes) }
        #expect(incomplete.isEmpty, "downloads cut short by the reload: \(incomplete.map { "#\($0.offset): \($0.element)" })")
    }

    /// m03 carried from host-1 to host-2 (farm.yaml and hardware): same entry ports, new host,
    /// egress through m03 again.
    func movedModemKeepsItsEntryPorts(_ lab: MultiHostLab) throws {
        let before = try lab.entry(3)
        let farm = try String(contentsOfFile: lab.farmFile, encoding: .utf8)
        let moved = farm.replacingOccurrences(of: "name: m03\n    ports: { http: 20031, socks: 20032 }\n    host: host-1",
                                              with: "name: m03\n    ports: { http: 20031, socks: 20032 }\n    host: host-2")
        try #require(moved != farm, "farm.yaml's m03 entry changed shape:\n\(farm)")
        try moved.write(toFile: lab.farmFile, atomically: true, encoding: .utf8)
        try #require(try lab.lab("move", "3", "--host", "host-1", "--to", "host-2").status == 0)
        try lab.waitUntil("m03 in service from host-2", timeout: .seconds(90)) {
            lab.phase(3, on: "host-2") == "Ready" && lab.gatewayStatus().modems["m03"]?.host == "host-2" && lab.gatewayStatus().modems["m03"]?.up == true
        }
        let after = try lab.entry(3)
        #expect(after.http == before.http && after.socks == before.socks, "entry ports changed: \(before) → \(after)")
        #expect(lab.status(3, on: "host-1") == nil, "host-1 still reports m03")
        let own = try #require(lab.address(3, on: "host-2"))
        #expect(own.hasPrefix("100.64.3."))
        // The outage ends when HAProxy's checks (rise 2) find m03 Ready on host-2 — gateway.json's
        // states are as of the gateway's last pass; meanwhile nothing but m03's own address may answer.
        try lab.waitUntil("m03's entry ports answering again", timeout: .seconds(30)) {
            let answers = [try lab.throughGateway(port: after.http), try lab.throughGateway(port: after.socks, socks: true)]
            #expect(answers.allSatisfy { $0 == nil || $0 == own }, "m03's entry ports answered \(answers)")
            return answers.allSatisfy { $0 == own }
        }
    }

    /// farm.yaml's repository rewritten upstream: host-1's pull is refused, it keeps serving the
    /// farm it has, and its status (text, JSON and /v1/status) says why and since when.
    func refusedPullKeepsServingAndSaysSo(_ lab: MultiHostLab) throws {
        let origin = lab.directory + "/origin.git", other = lab.directory + "/other"
        func git(_ arguments: String..., in directory: String) throws {
            let result = try Subprocess.run("/usr/bin/env", ["git", "-c", "user.name=lab", "-c", "user.email=lab@example.org",
                                                            "-c", "init.defaultBranch=main", "-C", directory] + arguments)
            try #require(result.status == 0, "git \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        try git("init", "-q", "--bare", origin, in: lab.directory)
        try git("init", "-q", in: lab.directory)
        try git("add", "farm.yaml", in: lab.directory)
        try git("commit", "-qm", "the farm", in: lab.directory)
        try git("push", "-q", "-u", origin, "HEAD:main", in: lab.directory)
        try git("clone", "-q", origin, other, in: lab.directory)

        // A fast-forward comes in.
        try ("# pulled\n" + String(contentsOfFile: other + "/farm.yaml", encoding: .utf8)).write(toFile: other + "/farm.yaml", atomically: true, encoding: .utf8)
        try git("commit", "-qam", "a comment", in: other)
        try git("push", "-q", in: other)
        let pulled = try lab.run(on: "host-1", "pull")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try String(contentsOfFile: lab.farmFile, encoding: .utf8).hasPrefix("# pulled\n"))

        // Upstream history rewritten: not a fast-forward.
        try git("reset", "-q", "--hard", "HEAD~1", in: other)
        try ("# rewritten\n" + String(contentsOfFile: other + "/farm.yaml", encoding: .utf8)).write(toFile: other + "/farm.yaml", atomically: true, encoding: .utf8)
        try git("commit", "-qam", "rewritten", in: other)
        try git("push", "-q", "--force", in: other)
        let refused = try lab.run(on: "host-1", "pull")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pull refused (not a fast-forward"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: lab.farmFile, encoding: .utf8).hasPrefix("# pulled\n"), "a refused pull changed farm.yaml")

        let status = try lab.run(on: "host-1", "status")
        #expect(status.stdout.contains("farm.yaml not updated: pull refused (not a fast-forward"), "status:\n\(status.stdout)")
        let json = try lab.run(on: "host-1", "status", "--output", "json")
        let pull = ((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any])?["pull"] as? [String: Any]
        #expect(pull?["succeeded"] as? Bool == false && pull?["lastSuccess"] != nil && pull?["failingSince"] != nil, "\(json.stdout)")
        let metrics = try Subprocess.inNamespace(lab.name + "-gw", "curl", "-fsS", "-m", "5", "http://192.0.2.2:8080/metrics").stdout
        #expect(metrics.contains("\nproxyfarm_pull_success 0\n") && metrics.contains("\nproxyfarm_pull_last_success_timestamp_seconds "), "\(metrics.suffix(600))")
        for modem in 1...2 {
            #expect(try lab.throughGateway(port: lab.entry(modem).http) == lab.address(modem), "host-1 keeps serving m0\(modem)")
        }
    }

    @Test("`lab demo --hosts 2 --output json`: exactly name, host, entry ports and the egress a customer saw, per modem",
          .enabled(if: canRun, "\(requirement)"))
    func demoAsJSON() throws {
        let name = "pf\(getpid())j"
        let run = try Subprocess.run(try Subprocess.reconcile, ["lab", "demo", "--hosts", "2", "--modems", "2", "--output", "json", "--name", name])
        defer { _ = try? Subprocess.run(try Subprocess.reconcile, ["lab", "down", "--name", name]) }
        #expect(run.status == 0, "demo failed:\n\(run.stderr)")
        let json = try #require((try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any], "stdout is not JSON alone:\n\(run.stdout)")
        #expect(Array(json.keys) == ["modems"])
        let modems = json["modems"] as? [[String: Any]] ?? []
        #expect(modems.map { $0["name"] as? String } == ["m01", "m02", "m03", "m04"])
        for (index, modem) in modems.enumerated() {
            #expect(Set(modem.keys) == ["name", "host", "entry", "egress"])
            #expect(modem["host"] as? String == (index < 2 ? "host-1" : "host-2"))
            let entry = modem["entry"] as? [String: Int] ?? [:]
            #expect(Set(entry.keys) == ["http", "socks"] && entry.values.allSatisfy { (30000...30999).contains($0) })
            #expect((modem["egress"] as? String)?.hasPrefix("100.64.\(index + 1).") == true, "\(modem)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(name)-gw"), "the demo tears its lab down")
    }
}
