import Foundation
import Glibc
import Testing
@testable import Drivers

/// The daemon hears of routing and nftables changes made by anyone, in its own network namespace.
@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct KernelChangesTests {
    static func ip(_ arguments: [String]) throws {
        let result = try ProxyTestSupport.run("/usr/sbin/ip", arguments)
        #expect(result.status == 0, "ip \(arguments.joined(separator: " ")): \(result.output)")
    }

    @Test func aDeletedRuleOrAFlushedTableWakesTheDaemon() async throws {
        let name = "pfkc\(getpid() % 100_000)"
        try Self.ip(["netns", "add", name])
        defer { _ = try? ProxyTestSupport.run("/usr/sbin/ip", ["netns", "del", name]) }
        try Self.ip(["-n", name, "rule", "add", "from", "192.0.2.9", "lookup", "250", "priority", "250"])
        try Self.ip(["netns", "exec", name, "/usr/sbin/nft", "add", "table", "inet", "proxyfarm"])
        let subscribed = NetworkNamespace.run(at: "/run/netns/\(name)") { Result { () throws(SystemCallError) in try KernelChanges.wakeUps() } }
        let wakeUps = StreamLog(try subscribed.get().get())
        defer { wakeUps.stop() }

        try await Task.sleep(for: .milliseconds(500))
        #expect(wakeUps.elements.isEmpty, "nothing changed yet")
        try Self.ip(["-n", name, "rule", "del", "priority", "250"])
        #expect(await wakeUps.wait { $0.elements.count == 1 }, "a deleted rule")
        try Self.ip(["netns", "exec", name, "/usr/sbin/nft", "flush", "ruleset"])
        #expect(await wakeUps.wait { $0.elements.count == 2 }, "a flushed nftables ruleset")
    }
}
