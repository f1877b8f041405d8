import Drivers
import Foundation
import Reconciler
import Testing

@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct SocketHealthProbeTests {
    private static func server(_ path: String) -> String { "http://\(NetnsLab.serverAddress)\(path)" }

    @Test func okThroughAWorkingModemReportsItsPublicIP() async throws {
        try await NetnsLab.with(modems: 3) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            let probe = SocketHealthProbe(namespace: lab.farm)
            let result = await probe.probe(url: Self.server("/ip"), uid: RoutingFixtures.uid(2), interface: "wwan2", timeout: .seconds(3))
            #expect(result.ok, "\(result.failure ?? "")")
            #expect(result.publicIP == lab.address(2))
            #expect(result.latency > .zero && result.latency < .seconds(3))
            let noContent = await probe.probe(url: Self.server("/generate_204"), uid: RoutingFixtures.uid(3), interface: "wwan3",
                                              timeout: .seconds(3))
            #expect(noContent == ProbeResult(ok: true, latency: noContent.latency))
            #expect(lab.seenSources() == ["http \(lab.address(2))", "http \(lab.address(3))"])
        }
    }

    @Test func publicIPReportingCanBeTurnedOff() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            let probe = SocketHealthProbe(namespace: lab.farm, publicIPFromBody: false)
            let result = await probe.probe(url: Self.server("/"), uid: RoutingFixtures.uid(1), interface: "wwan1", timeout: .seconds(3))
            #expect(result.ok)
            #expect(result.publicIP == nil)
        }
    }

    @Test func carrierDroppingTrafficIsATimeoutWithinTheTimeout() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            // The carrier silently drops everything back to modem 2's address: no answer, no error.
            try lab.ip(lab.inet, "route", "add", "blackhole", "\(lab.address(2))/32")
            let probe = SocketHealthProbe(namespace: lab.farm)
            let timeout = Duration.milliseconds(700)
            let result = await probe.probe(url: Self.server("/ip"), uid: RoutingFixtures.uid(2), interface: "wwan2", timeout: timeout)
            #expect(!result.ok)
            #expect(result.failure == "timeout after 0.7s (connecting)")
            #expect(result.latency >= timeout && result.latency < timeout + .milliseconds(500))
            let other = await probe.probe(url: Self.server("/ip"), uid: RoutingFixtures.uid(1), interface: "wwan1", timeout: timeout)
            #expect(other.ok && other.publicIP == lab.address(1))
        }
    }

    @Test func slowAnswerIsATimeoutToo() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            let result = await SocketHealthProbe(namespace: lab.farm).probe(url: Self.server("/slow/3"), uid: RoutingFixtures.uid(1),
                                                                          interface: "wwan1", timeout: .milliseconds(500))
            #expect(result.failure == "timeout after 0.5s (waiting for the answer)")
            #expect(result.latency < .seconds(1))
        }
    }

    @Test func failuresSayWhatHappened() async throws {
        try await NetnsLab.with(modems: 2) { lab in
            try await RoutingFixtures.converge(IPRouteNetworkControl(namespace: lab.farm), RoutingFixtures.farm(lab))
            let probe = SocketHealthProbe(namespace: lab.farm)
            let unavailable = await probe.probe(url: Self.server("/status/503"), uid: RoutingFixtures.uid(1), interface: "wwan1",
                                                timeout: .seconds(3))
            #expect(unavailable.failure == "HTTP 503")
            #expect(!unavailable.ok)
            let refused = await probe.probe(url: "http://\(NetnsLab.serverAddress):81/", uid: RoutingFixtures.uid(1), interface: "wwan1",
                                            timeout: .seconds(3))
            #expect(refused.failure == "connection refused")
            try lab.ip(lab.farm, "link", "set", "wwan2", "down")
            let dead = await probe.probe(url: Self.server("/ip"), uid: RoutingFixtures.uid(2), interface: "wwan2", timeout: .seconds(3))
            #expect(dead.failure == "no route to host")
            #expect(dead.latency < .milliseconds(500))
            let https = await probe.probe(url: "https://\(NetnsLab.serverAddress)/", uid: RoutingFixtures.uid(1), interface: "wwan1",
                                          timeout: .seconds(3))
            #expect(https.failure?.hasPrefix("unsupported probe URL") == true)
            #expect(!lab.seenSources().contains { $0.hasSuffix(" " + NetnsLab.uplinkAddress) })
        }
    }
}
