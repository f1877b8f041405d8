import Foundation
import Testing

/// `reconcile status --farm`: a host that does not answer is a row saying so, with a row for each of
/// its modems, and the exit code says the farm is not fine.
@Suite struct FarmStatusTests {
    @Test func unreachableHostIsARowAndExits3() throws {
        let directory = NSTemporaryDirectory() + "pf-farmstatus-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Nothing listens on the api port: the host refuses at once.
        try """
            version: 1
            hosts:
              pi-1: { address: 127.0.0.1 }
            gateway: { listen: 127.0.0.1, ports: 30000-30009, allow: [127.0.0.0/8] }
            api:
              listen: "0.0.0.0:1"
              token: { value: "a-token-of-sixteen-or-more" }
            defaults: { apn: internet, proxy: { users: [alice] } }
            users:
              alice: { password: { value: "secret-of-alice" } }
            modems:
              - { serial: "s1", name: m01, host: pi-1, ports: { http: 20001, socks: 20002 } }
            """.write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        let text = try Subprocess.run(try Subprocess.reconcile, ["status", "--farm"], in: directory)
        #expect(text.status == 3, "\(text.stdout)\(text.stderr)")
        #expect(text.stdout.contains("pi-1  -      -        -   -      unreachable: connection refused"), "\(text.stdout)")
        #expect(text.stdout.contains("pi-1  m01    Unknown  -   -      host did not answer"), "\(text.stdout)")
        #expect(!text.stdout.contains("a-token-of-sixteen"))
        let json = try Subprocess.run(try Subprocess.reconcile, ["status", "--farm", "--output", "json"], in: directory)
        let hosts = ((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any])?["hosts"] as? [[String: Any]]
        #expect(hosts?.first?["error"] as? String == "unreachable: connection refused" && json.status == 3, "\(json.stdout)")
    }
}
