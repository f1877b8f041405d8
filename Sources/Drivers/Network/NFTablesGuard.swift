import Foundation
import Reconciler

/// The egress guard with nftables (docs/routing.md): ProxyFarm's own table `inet proxyfarm`,
/// read back with `nft -j list table` and replaced whole in one `nft -f` transaction, so it is
/// never half written. Nothing outside that table is read or touched.
///
/// ```
/// table inet proxyfarm {
///     chain egress {
///         type filter hook output priority filter; policy accept;
///         meta skuid 20001 jump lane_20001
///         meta skuid 20001-20999 counter reject
///     }
///     chain lane_20001 {
///         oifname "wwan1" accept
///         tcp sport { 20011, 20012 } accept
///         counter reject
///     }
/// }
/// ```
public struct NFTablesGuard: Sendable {
    /// Network namespace to work in (`ip netns exec NS nft`); nil for the reconciler's own.
    public var namespace: String?
    /// Path or name of nftables' `nft`.
    public var nftTool: String
    /// Path or name of iproute2's `ip` (only to enter `namespace`).
    public var ipTool: String
    public var timeout: Duration

    public init(namespace: String? = nil, nftTool: String = "nft", ipTool: String = "ip", timeout: Duration = .seconds(10)) {
        self.namespace = namespace
        self.nftTool = nftTool
        self.ipTool = ipTool
        self.timeout = timeout
    }

    static let table = "proxyfarm"

    /// The table as it is; a missing table is an empty guard, a failure to read is `unreadable`.
    public func observe() async -> GuardState {
        let arguments = command(["-j", "list", "table", "inet", Self.table])
        let output: ToolOutput
        do {
            output = try await NetworkToolRunner.run(arguments, timeout: timeout)
        } catch {
            return GuardState(unreadable: error.message + " (install nftables)")
        }
        guard output.status == 0 else {
            // nft's own answer for a table that does not exist (not a missing nft binary).
            if output.stderr.hasPrefix("Error: No such file or directory") { return GuardState() }
            return GuardState(unreadable: "`\(arguments.joined(separator: " "))` failed: " + NetworkError.printable(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return NFTablesJSON.guardState(output.stdout)
    }

    /// Writes `current` with `changes` applied as the whole table, in one transaction. A lane
    /// whose interface name cannot be written safely is written closed (nothing out) and reported.
    public func apply(_ changes: [NetworkChange], to current: GuardState) async throws(NetworkError) {
        var state = current
        for change in changes { state = state.applying(change) }
        var failures: [NetworkError.FailedChange] = []
        for (uid, lane) in state.lanes {
            guard let interface = lane.interface, let problem = BatchValidation.interfaceProblem(interface) else { continue }
            failures.append(.init(change: lane.description, answer: "not sent: \(problem); the lane is closed instead"))
            state.lanes[uid]?.interface = nil
        }
        let arguments = command(["-f", "-"])
        let output = try await NetworkToolRunner.run(arguments, input: Self.render(state), timeout: timeout)
        if output.status != 0 {
            failures.append(.init(change: "guard table inet \(Self.table)",
                                  answer: output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        if !failures.isEmpty { throw .changesFailed(failures) }
    }

    /// The whole table: created if missing, deleted and defined anew in the same transaction.
    static func render(_ state: GuardState) -> String {
        var egress = ["type filter hook output priority filter; policy accept;"]
        var chains = ""
        for lane in state.lanes.values.sorted(by: { $0.uid < $1.uid }) {
            egress.append("meta skuid \(lane.uid) jump lane_\(lane.uid)")
            var rules: [String] = []
            if let interface = lane.interface { rules.append("oifname \"\(interface)\" accept") }
            if !lane.replyPorts.isEmpty { rules.append("tcp sport { " + lane.replyPorts.map(String.init).joined(separator: ", ") + " } accept") }
            rules.append("counter reject")
            chains += "\tchain lane_\(lane.uid) {\n" + rules.map { "\t\t\($0)\n" }.joined() + "\t}\n"
        }
        if let fence = state.fence { egress.append("meta skuid \(fence.lowerBound)-\(fence.upperBound) counter reject") }
        return "table inet \(table)\ndelete table inet \(table)\ntable inet \(table) {\n\tchain egress {\n"
            + egress.map { "\t\t\($0)\n" }.joined() + "\t}\n" + chains + "}\n"
    }

    private func command(_ arguments: [String]) -> [String] {
        (namespace.map { [ipTool, "netns", "exec", $0] } ?? []) + [nftTool] + arguments
    }
}
