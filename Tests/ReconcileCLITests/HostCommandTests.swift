import Foundation
import Testing

/// `--host NAME` on a multi-host farm, and `reconcile gateway --dry-run`, as real processes
/// against the simulated backend.
@Suite struct HostCommandTests {
    static func farm(m01Host: String) -> String {
        """
        version: 1
        defaults:
          apn: internet
          proxy:
            users: [alice]
        users:
          alice: { password: { env: PF_TEST_ALICE } }
        api: { listen: "0.0.0.0:8080", token: { env: PF_TEST_ALICE } }
        hosts:
          pi-1: { address: 10.8.0.11 }
          pi-2: { address: 10.8.0.12 }
        gateway: { ports: 30000-30099, allow: [0.0.0.0/0] }
        modems:
          - { serial: "860000000000001", name: m01, host: \(m01Host), ports: { http: 20003, socks: 20004 } }
          - { serial: "860000000000002", name: m02, host: pi-2, ports: { http: 20001, socks: 20002 } }

        """
    }

    @Test func aHostReconcilesOnlyItsModemsAndTearsDownOneMovedAway() throws {
        let directory = try ReconcileCommandTests.scratch(Self.farm(m01Host: "pi-1"))
        let apply = try ReconcileCommandTests.reconcile(["--simulated", "--host", "pi-1"], in: directory)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.contains("farm converged. Modems: 1 Ready."), "\(apply.stdout)")
        let status = try ReconcileCommandTests.reconcile(["status", "--output", "json"], in: directory)
        #expect(status.stdout.contains("\"m01\"") && !status.stdout.contains("\"m02\""), "\(status.stdout)")
        // m01 moves to pi-2 in git: pi-1 now plans to tear it down, as if it were removed.
        try Self.farm(m01Host: "pi-2").write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        let plan = try ReconcileCommandTests.reconcile(["--dry-run", "--simulated", "--host", "pi-1"], in: directory)
        #expect(plan.status == 2)
        #expect(plan.stdout.contains("m01:\n  - stop proxy (pid ") && plan.stdout.contains(" 0 to add, "), "\(plan.stdout)")
    }

    @Test func aHostThatFarmYamlDoesNotListIsRefused() throws {
        let directory = try ReconcileCommandTests.scratch(Self.farm(m01Host: "pi-1"))
        let run = try ReconcileCommandTests.reconcile(["--simulated", "--host", "pi-9"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("this host is 'pi-9', which is not under hosts: (pi-1, pi-2); name it with --host NAME"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/state/status"))
    }

    @Test func gatewayDryRunShowsEveryEntryPortAndChangesNothing() throws {
        let directory = try ReconcileCommandTests.scratch(Self.farm(m01Host: "pi-1"))
        let plan = try ReconcileCommandTests.reconcile(["gateway", "--dry-run", "--state", "gw"], in: directory)
        #expect(plan.status == 2, "\(plan.stderr)")
        #expect(plan.stdout == """
            Plan: start HAProxy
            MODEM  SERVICE  ENTRY  HOST  TARGET
            m01    http     30000  pi-1  10.8.0.11:20003
            m01    socks    30001  pi-1  10.8.0.11:20004
            m02    http     30002  pi-2  10.8.0.12:20001
            m02    socks    30003  pi-2  10.8.0.12:20002

            """)
        #expect(!FileManager.default.fileExists(atPath: directory + "/gw/entries.json"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/gw/haproxy"))
        let status = try ReconcileCommandTests.reconcile(["gateway", "status", "--state", "gw2"], in: directory)
        #expect(status.status == 1 && status.stderr.contains("no gateway status in gw2: run `reconcile gateway` first"), "\(status.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/gw2"))
    }

    @Test func theDaemonFollowsAModemMovedAwayAndKeepsItsFarmWhenItsHostDisappears() throws {
        let directory = try ReconcileCommandTests.scratch(Self.farm(m01Host: "pi-1"))
        let daemon = try DaemonProcess(in: directory, extraArguments: ["--host", "pi-1"], environment: ["PF_TEST_ALICE": ReconcileCommandTests.alice])
        defer { _ = daemon.stop() }
        #expect(eventually(within: 10) { daemon.count("Ready") == 1 }, "\(daemon.log)")
        #expect(daemon.modemStatus("m01") != nil && daemon.modemStatus("m02") == nil)
        try Self.farm(m01Host: "pi-2").write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        #expect(eventually(within: 10) { daemon.modemStatus("m01") == nil && daemon.farmStatus()?["modems"] as? Int == 0 }, "\(daemon.log)")
        // A farm.yaml that no longer lists pi-1 is an error here, not an empty host.
        try Self.farm(m01Host: "pi-1").replacingOccurrences(of: "  pi-1: { address: 10.8.0.11 }\n", with: "")
            .replacingOccurrences(of: "host: pi-1", with: "host: pi-2").replacingOccurrences(of: "http: 20003, socks: 20004", with: "http: 20005, socks: 20006")
            .write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        #expect(eventually(within: 10) {
            (daemon.farmStatus()?["specErrors"] as? [String])?.contains { $0.contains("this host is 'pi-1', which is not under hosts: (pi-2)") } == true
        }, "\(daemon.log)")
    }
}
