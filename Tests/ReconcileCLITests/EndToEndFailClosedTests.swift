import Foundation
import Testing

/// Issue 11's fault matrix in the lab: real kernel, real libqmi against the simulators, real
/// proxies, the daemon running. While modem 1 is faulty, clients hammer its HTTP and SOCKS ports
/// (SOCKS with names resolved by the proxy), and two counters in the lab's own nftables tables
/// count every packet that leaves the farm host by its uplink for one of the lanes' uids, and
/// every packet from the uplink's address that reaches the lab's internet. Every row: 0.
@Suite(.serialized) struct EndToEndFailClosedTests {
    @Test("fault matrix: hung at cold start, hung after convergence with rules deleted, link down, address flushed, unplugged, hung across a reboot — 0 leaks",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func faultMatrixLeaksNothing() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        let watch = try LeakWatch(lab)

        // Hung before the first pass: its lane is closed and its proxy refused, the other converges.
        try #require(try lab.lab("fault", "1", "no-answer").status == 0)
        try lab.startDaemon()
        try lab.waitUntil("m02 Ready and m01's lane closed", timeout: .seconds(60)) { try lab.phase("m02") == "Ready" && lab.laneClosed(1) }
        try watch.row("hung before the first pass") { try lab.hammer(1, for: .seconds(4)) }
        #expect(lab.phase("m01") == "Error" && lab.status("m01")?["reason"] as? String != nil)
        #expect(lab.farmStatus()?["converged"] as? Bool == false, "a hung modem is not a converged farm")
        #expect(try lab.metric("proxyfarm_converged") == "0")

        try #require(try lab.lab("fault", "1", "none").status == 0)
        // The modems' status files come before metrics.prom in a pass, and the pass that makes m01
        // Ready may still leave something to do: converged is the metrics' word, a pass later at most.
        try lab.waitUntil("all Ready and the metrics say converged", timeout: .seconds(60)) {
            try lab.allReady() && lab.metric("proxyfarm_converged") == "1"
        }
        #expect(try lab.egress(1) == lab.address("m01"))

        // Hung after convergence, then its rules and routes deleted by hand (the audit's 475/475).
        try #require(try lab.lab("fault", "1", "no-answer").status == 0)
        try lab.deleteLane(1)
        try watch.row("hung, rules and routes deleted") { try lab.hammer(1, for: .seconds(3)) }
        lab.touchFarm()
        try lab.waitUntil("m01's lane restored while hung", timeout: .seconds(60)) { try lab.laneClosed(1) && lab.phase("m01") == "Error" }
        try watch.row("hung, lane restored") { try lab.hammer(1, for: .seconds(3)) }
        try #require(try lab.lab("fault", "1", "none").status == 0)
        try lab.waitUntil("m01 Ready again", timeout: .seconds(60)) { lab.phase("m01") == "Ready" }

        // The link taken down, then its address flushed, under a running proxy.
        try lab.inFarm("ip", "link", "set", "wwan1", "down")
        try watch.row("link down") { try lab.hammer(1, for: .seconds(3)) }
        lab.touchFarm()
        try lab.waitUntil("m01 Ready after link down", timeout: .seconds(60)) { try lab.phase("m01") == "Ready" && lab.egress(1) != nil }
        try lab.inFarm("ip", "address", "flush", "dev", "wwan1")
        try watch.row("address flushed") { try lab.hammer(1, for: .seconds(3)) }
        lab.touchFarm()
        try lab.waitUntil("m01 Ready after address flush", timeout: .seconds(60)) { try lab.phase("m01") == "Ready" && lab.egress(1) != nil }

        // Unplugged while clients hammer it (modem 2: known by its IMEI only, so after the replug
        // it is matched again over QMI).
        try #require(try lab.lab("unplug", "2").status == 0)
        try watch.row("unplugged") { try lab.hammer(2, for: .seconds(4)) }
        try lab.waitUntil("m02 Missing, lane closed") { try lab.phase("m02") == "Missing" && lab.laneClosed(2, plugged: false) }
        try #require(try lab.lab("plug", "2").status == 0)
        try lab.waitUntil("m02 Ready after replug", timeout: .seconds(60)) { lab.phase("m02") == "Ready" }

        // A reboot with the modem hung: state kept, the kernel's routing and nftables and every
        // process gone, then the daemon starts again.
        lab.stopDaemon()
        try #require(try lab.lab("fault", "1", "no-answer").status == 0)
        try lab.reboot()
        let oneShot = try lab.reconcile()
        #expect(oneShot.status == 3, "a pass that leaves a modem not Ready exits 3: \(oneShot.stdout) \(oneShot.stderr)")
        #expect(try lab.laneClosed(1))
        try lab.startDaemon()
        // The one-shot pass already closed the lane and wrote m02 Ready: only the daemon's own
        // first pass says what the daemon does with a modem hung since before it started.
        try lab.waitForPass(wokenBy: "startup")
        try lab.waitUntil("after the reboot m01's lane is closed while it is hung", timeout: .seconds(60)) {
            try lab.phase("m02") == "Ready" && lab.laneClosed(1)
        }
        try watch.row("hung across a reboot") { try lab.hammer(1, for: .seconds(4)) }
        try #require(try lab.lab("fault", "1", "none").status == 0)
        try lab.waitUntil("all Ready after the reboot", timeout: .seconds(60)) { lab.allReady() }
        try watch.row("recovered") { try lab.hammer(1, for: .seconds(2)) }

        // A broken farm.yaml shows in the metrics; the last valid one keeps serving.
        let farmFile = lab.directory + "/farm.yaml"
        let valid = try String(contentsOfFile: farmFile, encoding: .utf8)
        try (valid + "\nmodemz: []\n").write(toFile: farmFile, atomically: true, encoding: .utf8)
        try lab.waitUntil("the metrics say farm.yaml is invalid") {
            try lab.metric("proxyfarm_spec_valid") == "0" && lab.metric("proxyfarm_spec_errors") == "1"
        }
        #expect(try lab.egress(1) == lab.address("m01"))
        try valid.write(toFile: farmFile, atomically: true, encoding: .utf8)
        try lab.waitUntil("the metrics say farm.yaml is valid again") { try lab.metric("proxyfarm_spec_valid") == "1" }
        try lab.expectDaemonAlive()
    }

    @Test("a hung modem returns to Ready by itself through the recovery ladder, rung by rung",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func hungModemRecoversThroughTheLadder() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let watch = try LeakWatch(lab)
        try #require(try lab.lab("fault", "1", "no-answer").status == 0)
        lab.touchFarm()
        try lab.waitUntil("m01 not responding") { lab.condition("m01", "Responding")?["status"] as? String == "False" }
        // Reopen at once, the QMI reset (unanswered) 15 s later, USB re-enumeration 30 s after that:
        // the lab re-enumerates the device and its simulator comes back fresh.
        try lab.waitUntil("m01 Ready again through the ladder", timeout: .seconds(120)) {
            lab.phase("m01") == "Ready" && lab.condition("m01", "Responding")?["status"] as? String == "True"
        }
        let rungs = lab.auditActions(of: "m01").filter { $0.hasPrefix("recover-") }
        #expect(rungs == ["recover-reopen", "recover-reset-qmi", "recover-reenumerate"], "\(rungs)")
        #expect(try lab.egress(1) == lab.address("m01"))
        try watch.row("hung and recovering") { try lab.hammer(1, for: .seconds(1)) }
        try lab.expectDaemonAlive()
    }

    @Test("through any modem's proxy the farm host's loopback, its own addresses and the uplink's are refused (HTTP and SOCKS)",
          .enabled(if: EndToEndLab.canRun, "\(EndToEndLab.requirement)"))
    func hostAddressesAreRefusedThroughTheProxies() throws {
        let lab = try EndToEndLab(modems: 2)
        defer { lab.down() }
        try lab.startDaemon()
        try lab.waitUntil("all Ready") { lab.allReady() }
        let hostService = try lab.serve(in: lab.farm)
        let uplinkService = try lab.serve(in: lab.inet)
        defer {
            hostService.terminate()
            uplinkService.terminate()
        }
        // The services answer their own side: the refusals below are the guard's, not a dead port.
        #expect(try lab.inFarm("curl", "-fsS", "-m", "3", "http://127.0.0.1:8399/").stdout == "host service 127.0.0.1\n")
        for modem in 1...2 {
            for target in ["127.0.0.1", "192.0.2.2", lab.address("m0\(modem)") ?? ""] {
                let http = try lab.throughProxy(modem, "http://\(target):8399/", socks: false)
                #expect(!http.contains("service"), "m0\(modem) HTTP proxy reached \(target) on the farm host: \(http)")
                let socks = try lab.throughProxy(modem, "http://\(target):8399/", socks: true)
                #expect(!socks.contains("service"), "m0\(modem) SOCKS proxy reached \(target) on the farm host: \(socks)")
            }
            // The uplink's gateway lives in the lab's internet namespace, which the modems reach too:
            // reached through the modem is right, reached from the host's uplink address a leak.
            for socks in [false, true] {
                let gateway = try lab.throughProxy(modem, "http://192.0.2.1:8399/", socks: socks)
                #expect(!gateway.contains("192.0.2.2"), "m0\(modem) reached the uplink's gateway through the uplink: \(gateway)")
            }
            #expect(try lab.egress(modem) == lab.address("m0\(modem)"), "the internet is still reached through the modem")
        }
        lab.touchFarm()
        try lab.waitUntil("the guard's refusals in the metrics") {
            try (Int(lab.metric("proxyfarm_modem_guard_refused_packets_total{modem=\"m01\"}") ?? "0") ?? 0) > 0
        }
        try lab.expectDaemonAlive()
    }
}

/// Counts packets of the lab's lanes that leave the farm by its uplink, and packets from the
/// uplink's address that reach the internet side: each one is a leak.
struct LeakWatch {
    let lab: EndToEndLab

    init(_ lab: EndToEndLab) throws {
        self.lab = lab
        try lab.nft(in: lab.farm, """
            table inet pfleakwatch {
            \tchain out {
            \t\ttype filter hook postrouting priority 100; policy accept;
            \t\toifname "eth0" meta skuid 20001-20999 counter
            \t}
            }
            """)
        try lab.nft(in: lab.inet, """
            table inet pfleakwatch {
            \tchain in {
            \t\ttype filter hook prerouting priority -300; policy accept;
            \t\tip saddr 192.0.2.2 counter
            \t}
            }
            """)
    }

    /// Runs `body` and expects no leak while it ran; returns the replies the clients got.
    func row(_ name: String, _ body: () throws -> [String]) throws {
        let before = try counts()
        let replies = try body()
        let after = try counts()
        #expect(after == before, "\(name): packets left by the uplink: farm \(after.farm - before.farm), seen by the internet \(after.inet - before.inet)")
        #expect(!replies.contains("192.0.2.2"), "\(name): a client was answered from the host's uplink address")
    }

    private func counts() throws -> (farm: Int, inet: Int) {
        (try packets(lab.farm), try packets(lab.inet))
    }

    private func packets(_ namespace: String) throws -> Int {
        let listing = try Subprocess.inNamespace(namespace, "nft", "list", "table", "inet", "pfleakwatch").stdout
        guard let range = listing.range(of: #"packets (\d+)"#, options: .regularExpression) else {
            Issue.record("no counter in \(namespace): \(listing)")
            return -1
        }
        return Int(listing[range].dropFirst("packets ".count)) ?? -1
    }
}

extension EndToEndLab {
    var password: String {
        get throws { try String(contentsOfFile: directory + "/secrets/lab", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    func httpPort(_ modem: Int) -> Int { 20000 + 10 * modem + 1 }
    func socksPort(_ modem: Int) -> Int { 20000 + 10 * modem + 2 }

    /// The modem's uid rule, oif rule (while plugged), `unreachable` route and guard lane are in place.
    func laneClosed(_ modem: Int, plugged: Bool = true) throws -> Bool {
        let slot = try #require(try allocationIndices()["m0\(modem)"])
        let table = 100 + slot, uid = 20000 + slot
        let rules = try rules()
        let routes = try Subprocess.ip("-n", farm, "route", "show", "table", "\(table)").stdout
        let lane = try Subprocess.inNamespace(farm, "nft", "list", "chain", "inet", "proxyfarm", "lane_\(uid)")
        return rules.contains { $0.hasSuffix("uidrange \(uid)-\(uid) lookup \(table)") }
            && (!plugged || rules.contains { $0.hasSuffix("oif wwan\(modem) lookup \(table)") })
            && routes.contains("unreachable default") && lane.status == 0
            && lane.stdout.contains("oifname \"wwan\(modem)\"") == plugged
    }

    /// Deletes the modem's rules and its table's routes by hand.
    func deleteLane(_ modem: Int) throws {
        let slot = try #require(try allocationIndices()["m0\(modem)"])
        let table = 100 + slot
        for rule in try rules() where rule.hasSuffix("lookup \(table)") {
            let selector = rule.split(separator: "\t", maxSplits: 1).last.map(String.init) ?? ""
            let arguments = ["-n", farm, "rule", "del", "priority", "\(table)"] + selector.split(separator: " ").map(String.init)
            try #require(try Subprocess.run("/usr/bin/env", ["ip"] + arguments).status == 0)
        }
        try Subprocess.ip("-n", farm, "route", "flush", "table", "\(table)")
        try #require(try !rules().contains { $0.hasSuffix("lookup \(table)") })
    }

    /// What a reboot leaves: no processes of the lab's farm (the lab host and its simulators stay,
    /// as the modems would), no routes, rules, addresses or nftables of ProxyFarm; state/ kept.
    func reboot() throws {
        for (_, pids) in try proxyProcesses() { for pid in pids { kill(pid, SIGKILL) } }
        for rule in try rules() {
            let fields = rule.split(separator: ":", maxSplits: 1)
            guard let priority = Int(fields.first ?? ""), (100...1099).contains(priority) else { continue }
            let selector = fields.last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            try Subprocess.run("/usr/bin/env", ["ip", "-n", farm, "rule", "del", "priority", "\(priority)"] + selector.split(separator: " ").map(String.init))
        }
        for slot in 1...modems { try Subprocess.ip("-n", farm, "route", "flush", "table", "\(100 + slot)") }
        for modem in 1...modems {
            try Subprocess.ip("-n", farm, "address", "flush", "dev", "wwan\(modem)")
            try Subprocess.ip("-n", farm, "link", "set", "wwan\(modem)", "down")
        }
        try Subprocess.inNamespace(farm, "nft", "delete", "table", "inet", "proxyfarm")
        try #require(try !rules().contains { $0.contains("uidrange 2000") })
    }

    /// Clients on the farm host hammer the modem's HTTP and SOCKS ports (SOCKS with the name
    /// resolved by the proxy) for `duration`; returns the bodies they got (the egress addresses).
    func hammer(_ modem: Int, for duration: Duration) throws -> [String] {
        let seconds = Int(duration.components.seconds)
        let password = try password
        let script = """
            end=$((SECONDS+\(seconds)))
            while [ $SECONDS -lt $end ]; do
              curl -s -m 2 -x http://lab:\(password)@127.0.0.1:\(httpPort(modem)) http://198.51.100.10/; echo
              curl -s -m 2 --socks5-hostname lab:\(password)@127.0.0.1:\(socksPort(modem)) http://198.51.100.10/; echo
              curl -s -m 2 --socks5-hostname lab:\(password)@127.0.0.1:\(socksPort(modem)) http://whatismyip.lab.invalid/; echo
            done
            """
        let result = try Subprocess.inNamespace(farm, "bash", "-c", script)
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// A body fetched through the modem's HTTP or SOCKS proxy ("" when refused).
    func throughProxy(_ modem: Int, _ url: String, socks: Bool) throws -> String {
        let proxy = socks ? ["--socks5-hostname", "lab:\(try password)@127.0.0.1:\(socksPort(modem))"]
            : ["-x", "http://lab:\(try password)@127.0.0.1:\(httpPort(modem))"]
        return try Subprocess.run("/usr/bin/env", ["ip", "netns", "exec", farm, "curl", "-s", "-m", "3"] + proxy + [url]).stdout
    }

    /// A one-line HTTP service on port 8399 of every address of `namespace`: its name and the
    /// client's address.
    func serve(in namespace: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let name = namespace == farm ? "host service" : "uplink service"
        process.arguments = ["ip", "netns", "exec", namespace, "python3", "-c", """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200); self.end_headers()
                    self.wfile.write(b"\(name) " + self.client_address[0].encode() + b"\\n")
                def log_message(self, *a): pass
            http.server.ThreadingHTTPServer(("0.0.0.0", 8399), H).serve_forever()
            """]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while try Subprocess.inNamespace(namespace, "curl", "-s", "-m", "1", "http://127.0.0.1:8399/").stdout.isEmpty {
            try #require(ContinuousClock.now < deadline, "the \(name) did not start")
            usleep(100_000)
        }
        return process
    }

    @discardableResult
    func inFarm(_ arguments: String...) throws -> Finished {
        let result = try Subprocess.run("/usr/bin/env", ["ip", "netns", "exec", farm] + arguments)
        #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    func nft(in namespace: String, _ ruleset: String) throws {
        let file = directory + "/watch-\(namespace).nft"
        try ruleset.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try Subprocess.inNamespace(namespace, "nft", "-f", file)
        try #require(result.status == 0, "nft -f failed: \(result.stderr)")
    }

    /// A metric's value from state/status/metrics.prom (`name{labels}` as written there).
    func metric(_ series: String) throws -> String? {
        let text = (try? String(contentsOfFile: state + "/status/metrics.prom", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    /// One condition of a modem's status file.
    func condition(_ modem: String, _ type: String) -> [String: Any]? {
        (status(modem)?["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == type }
    }

    /// The actions the audit log recorded for a modem, oldest first.
    func auditActions(of modem: String) -> [String] {
        let text = (try? String(contentsOfFile: state + "/log/actions.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  entry["modem"] as? String == modem else { return nil }
            return entry["action"] as? String
        }
    }

    /// Wakes the daemon at once (its farm.yaml watch), as an edit would.
    func touchFarm() {
        utimes(directory + "/farm.yaml", nil)
    }
}
