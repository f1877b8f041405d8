import Drivers
import Foundation
import Reconciler
import Testing

/// DESIGN §7's promise, proven with real packets: everything a modem's uid sends leaves through
/// that modem, and a dead modem fails closed instead of leaking through the host's uplink.
@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct EgressTests {
    @Test func eachModemsUidLeavesThroughItsModem() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            for n in 1...3 {
                let answer = try await lab.httpGet(from: lab.farm, uid: RoutingFixtures.uid(n))
                #expect(answer.stdout == lab.address(n) + "\n", "modem \(n): \(answer.stderr)")
            }
            let root = try await lab.httpGet(from: lab.farm)
            #expect(root.stdout == NetnsLab.uplinkAddress + "\n", "the host's own traffic keeps using its uplink")
        }
    }

    @Test func udpFromTheUidLeavesThroughItsModem() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            let answer = try await lab.udpAsk(from: lab.farm, uid: RoutingFixtures.uid(2))
            #expect(answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == lab.address(2), "\(answer.stderr)")
            #expect(lab.seenSources() == ["udp \(lab.address(2))"])
        }
    }

    @Test func deadModemFailsAtOnceAndNeverLeaks() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            try lab.ip(lab.farm, "link", "set", "wwan2", "down")

            let clock = ContinuousClock()
            let started = clock.now
            let http = try await lab.httpGet(from: lab.farm, uid: RoutingFixtures.uid(2), timeout: .seconds(5))
            #expect(!http.succeeded)
            #expect(http.stderr.contains("Network is unreachable") || http.stderr.contains("Couldn't connect"), "\(http.stderr)")
            #expect(clock.now - started < .seconds(2), "the unreachable route must answer at once, not a timeout")
            let udp = try await lab.udpAsk(from: lab.farm, uid: RoutingFixtures.uid(2), timeout: .seconds(1))
            #expect(!udp.succeeded)
            #expect(udp.stderr.contains("No route to host"), "\(udp.stderr)")

            let other = try await lab.httpGet(from: lab.farm, uid: RoutingFixtures.uid(1))
            #expect(other.stdout == lab.address(1) + "\n", "another modem is not disturbed")
            #expect(!lab.seenSources().contains { $0.hasSuffix(" " + NetnsLab.uplinkAddress) })
        }
    }

    @Test func carrierThatDropsTrafficNeverLeaksEither() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            try lab.ip(lab.inet, "link", "set", lab.carrierInterface(2), "down")
            let http = try await lab.httpGet(from: lab.farm, uid: RoutingFixtures.uid(2), timeout: .milliseconds(800))
            #expect(!http.succeeded)
            #expect(lab.seenSources() == [])
        }
    }
}
