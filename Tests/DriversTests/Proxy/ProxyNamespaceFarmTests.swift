import Foundation
import Reconciler
import Spec
import Testing
@testable import Drivers

/// The proxy side of a farm on the real kernel: one stand-in 3proxy per modem inside the lab's
/// `farm` namespace, routed by uid exactly as DESIGN §7 says (through the real network driver),
/// with clients in the same namespace.
@Suite(.serialized, .enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct ProxyNamespaceFarmTests {
    /// Look like real secrets on purpose: none of them may show up under state/log.
    static let alicePassword = "fixture-alice-\(UUID().uuidString)"
    static let bobPassword = "fixture-bob-\(UUID().uuidString)"
    static let bobNewPassword = "fixture-bob-new-\(UUID().uuidString)"

    static func uid(_ n: Int) -> UInt32 { 21_000 + UInt32(n) }
    static func table(_ n: Int) -> Int { 100 + n }
    static func httpPort(_ n: Int) -> Int { 20_000 + n }
    static func socksPort(_ n: Int) -> Int { 20_100 + n }

    /// Modem 2 carries alice and bob; modems 1 and 3 only alice. Clients from 127.0.0.0/8 only.
    static func input(_ n: Int, bobPassword: String, logs: String) -> ProxyConfigInput {
        var users: [ProxyConfigInput.ProxyUser] = [.init(name: "alice", credential: .clear(alicePassword), counters: CounterSlot(0))]
        if n == 2 { users.append(.init(name: "bob", credential: .clear(bobPassword), counters: CounterSlot(1))) }
        return ProxyConfigInput(modem: "m0\(n)", uid: uid(n), listen: "0.0.0.0", httpPort: httpPort(n), socksPort: socksPort(n),
                                users: users, allow: [CIDR(address: "127.0.0.0", prefixLength: 8)], maxConnections: 20,
                                bandwidth: Bandwidth(), dns: [], logDirectory: logs)
    }

    static func route(_ lab: NetnsLab, modems: ClosedRange<Int>) async throws {
        var changes: [NetworkChange] = []
        for n in modems {
            let interface = lab.modemInterface(n), table = table(n)
            changes += [
                .setAddress(interface: interface, cidr: lab.address(n) + "/24"), .linkUp(interface: interface),
                .addRoute(TableRoute(table: table, kind: .defaultVia(interface: interface, gateway: lab.gateway(n)))),
                .addRoute(TableRoute(table: table, kind: .unreachableDefault)),
                .addRule(RoutingRule(priority: table, selector: .uidRange(uid(n), uid(n)), table: table)),
                .addRule(RoutingRule(priority: table, selector: .from(lab.address(n)), table: table)),
                .addRule(RoutingRule(priority: table, selector: .oif(interface), table: table)),
            ]
        }
        try await IPRouteNetworkControl(namespace: lab.farm).apply(changes)
    }

    func curl(_ lab: NetnsLab, _ arguments: [String]) async throws -> CommandOutput {
        try await lab.run(in: lab.farm, ["curl", "-sS", "--max-time", "8", "--noproxy", ""] + arguments
            + ["http://\(NetnsLab.serverAddress)/"])
    }

    @Test func proxiesAuthenticateEgressThroughTheirModemAndReloadOnlyWhereNeeded() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            let state = try ProxyTestSupport.makeStateDirectory()
            let supervisor = ThreeProxySupervisor(stateDirectory: state, binary: ProxyTestSupport.standIn,
                                                  gracePeriod: .seconds(2), readinessTimeout: .seconds(8),
                                                  networkNamespace: lab.farm)
            var pids: [String: Int32] = [:]
            defer {
                for pid in pids.values where ProxyTestSupport.isAlive(pid) { kill(pid, SIGKILL) }
                ProxyTestSupport.removeDirectory(state)
            }
            try await Self.route(lab, modems: 1...3)
            let ports = Dictionary(uniqueKeysWithValues: (1...3).map { ("m0\($0)", [Self.httpPort($0), Self.socksPort($0)]) })
            for n in 1...3 {
                let config = ProxyConfigRenderer.render(Self.input(n, bobPassword: Self.bobPassword,
                                                                   logs: supervisor.logDirectory(modem: "m0\(n)")))
                try await supervisor.writeConfig(modem: "m0\(n)", config: config, uid: Self.uid(n))
                pids["m0\(n)"] = try await supervisor.start(modem: "m0\(n)", ports: ports["m0\(n)"]!).pid
            }

            // Modem 2's ports: HTTP and SOCKS5 both leave through modem 2.
            let viaHTTP = try await curl(lab, ["-x", "http://127.0.0.1:\(Self.httpPort(2))", "--proxy-user", "bob:\(Self.bobPassword)"])
            #expect(viaHTTP.stdout == lab.address(2) + "\n", "\(viaHTTP.stderr)")
            let viaSOCKS = try await curl(lab, ["-x", "socks5h://127.0.0.1:\(Self.socksPort(2))", "--proxy-user", "alice:\(Self.alicePassword)"])
            #expect(viaSOCKS.stdout == lab.address(2) + "\n", "\(viaSOCKS.stderr)")
            let viaModem3 = try await curl(lab, ["-x", "http://127.0.0.1:\(Self.httpPort(3))", "--proxy-user", "alice:\(Self.alicePassword)"])
            #expect(viaModem3.stdout == lab.address(3) + "\n")

            // Refusals: wrong password, a user not on this modem, a client outside the allow list.
            let wrong = try await curl(lab, ["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(Self.httpPort(2))",
                                       "--proxy-user", "bob:wrong"])
            #expect(wrong.stdout == "407")
            let notHere = try await curl(lab, ["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(Self.httpPort(1))",
                                         "--proxy-user", "bob:\(Self.bobPassword)"])
            #expect(notHere.stdout == "407")
            let wrongSOCKS = try await curl(lab, ["-x", "socks5h://127.0.0.1:\(Self.socksPort(2))", "--proxy-user", "bob:wrong"])
            #expect(!wrongSOCKS.succeeded && wrongSOCKS.stdout.isEmpty)
            let outside = try await curl(lab, ["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://\(NetnsLab.uplinkAddress):\(Self.httpPort(2))",
                                         "--proxy-user", "bob:\(Self.bobPassword)"])
            #expect(outside.stdout == "407", "client 192.0.2.2 is not in the allow list")
            #expect(!lab.seenSources().contains("http \(NetnsLab.uplinkAddress)"), "nothing leaked through the uplink")

            // A CONNECT tunnel through modem 1 stays open across the change (its answer comes after 2 s).
            let seenBefore = lab.seenSources().count
            let tunnel = Task.detached {
                try await lab.run(in: lab.farm, ["curl", "-sS", "--max-time", "10", "--noproxy", "", "-p",
                                           "-x", "http://127.0.0.1:\(Self.httpPort(1))", "--proxy-user", "alice:\(Self.alicePassword)",
                                           "http://\(NetnsLab.serverAddress)/slow/2"])
            }
            for _ in 0..<200 where lab.seenSources().count == seenBefore { try await Task.sleep(for: .milliseconds(10)) }
            let tunnelOpened = ContinuousClock.now

            // bob's password changes: only modem 2's config changes, so only modem 2 reloads.
            let observed = try await supervisor.observe(ports: ports)
            var reloaded: [String] = []
            for n in 1...3 {
                let modem = "m0\(n)"
                let config = ProxyConfigRenderer.render(Self.input(n, bobPassword: Self.bobNewPassword,
                                                                   logs: supervisor.logDirectory(modem: modem)))
                guard observed[modem]?.config != config else { continue }
                try await supervisor.writeConfig(modem: modem, config: config, uid: Self.uid(n))
                try await supervisor.reload(modem: modem, pid: pids[modem]!, ports: ports[modem]!)
                reloaded.append(modem)
            }
            #expect(reloaded == ["m02"])
            #expect(ContinuousClock.now - tunnelOpened < .seconds(2), "the reload ran while the tunnel was still waiting for its answer")
            let after = try await supervisor.observe(ports: ports)
            for (modem, pid) in pids {
                #expect(after[modem]?.process?.pid == pid)
                #expect(after[modem]?.process?.listening == true)
                #expect(after[modem]?.strays == [])
            }
            let old = try await curl(lab, ["-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(Self.httpPort(2))",
                                     "--proxy-user", "bob:\(Self.bobPassword)"])
            #expect(old.stdout == "407")
            let new = try await curl(lab, ["-x", "http://127.0.0.1:\(Self.httpPort(2))", "--proxy-user", "bob:\(Self.bobNewPassword)"])
            #expect(new.stdout == lab.address(2) + "\n")
            let tunnelled = try await tunnel.value
            #expect(tunnelled.succeeded, "\(tunnelled.stderr)")
            #expect(tunnelled.stdout == lab.address(1) + "\n")

            for (modem, pid) in pids { try await supervisor.stop(modem: modem, pid: pid, keepingCounts: true) }
            #expect(pids.values.allSatisfy { !ProxyTestSupport.isAlive($0) })

            // The proxies logged every request above; no password may be in any of it.
            let logs = try Self.filesUnder(state + "/log")
            #expect(logs.count >= 6, "request logs and stdout/stderr of three proxies: \(logs)")
            for file in logs {
                let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self)  // the counter file is binary
                for secret in [Self.alicePassword, Self.bobPassword, Self.bobNewPassword] {
                    #expect(!text.contains(secret), "a password is in \(file)")
                }
            }
        }
    }

    static func filesUnder(_ directory: String) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = directory + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(full) }
        }
        return files
    }
}
