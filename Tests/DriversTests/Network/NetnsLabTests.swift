import Foundation
import Testing

/// The lab itself must be right before anything is proven with it: without ProxyFarm's rules,
/// traffic from the farm leaves through the host uplink and the servers see the uplink address.
@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct NetnsLabTests {
    @Test func unroutedFarmTrafficLeavesThroughTheUplink() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            let http = try await lab.httpGet(from: lab.farm, uid: 20001)
            #expect(http.succeeded, "\(http.stderr)")
            #expect(http.stdout == NetnsLab.uplinkAddress + "\n")
            let udp = try await lab.udpAsk(from: lab.farm, uid: 20001)
            #expect(udp.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == NetnsLab.uplinkAddress)
            #expect(lab.seenSources() == ["http \(NetnsLab.uplinkAddress)", "udp \(NetnsLab.uplinkAddress)"])
            let status = try await lab.httpGet(from: lab.farm, path: "/generate_204")
            #expect(status.succeeded)
            let carriers = try lab.ipJSON(lab.inet, "-4", "address", "show", "dev", lab.carrierInterface(2))
            let carrierAddress = (carriers.first?["addr_info"] as? [[String: Any]])?.first?["local"] as? String
            #expect(carrierAddress == lab.gateway(2))
        }
    }

    @Test func teardownRemovesTheNamespaces() async throws {
        let lab = try NetnsLab.start(modems: 1)
        lab.tearDown()
        let names = try LabCommand.check(["ip", "netns", "list"])
        #expect(!names.contains(lab.farm))
        #expect(!names.contains(lab.inet))
    }
}
