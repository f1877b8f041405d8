import Spec
import Foundation
import Reconciler

/// The egress guard with nftables (docs/routing.md): ProxyFarm's own table `inet proxyfarm`,
/// read back as `nft -j list table` prints it and replaced whole in one transaction, so it is
/// never half written — through libnftables in this process, so the look of every pass starts no
/// process. Nothing outside that table is read or touched.
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
    /// Network namespace to work in; nil for the reconciler's own.
    public var namespace: String?
    private let parsed = LastParsed<GuardState>()

    public init(namespace: String? = nil) {
        self.namespace = namespace
    }

    static let table = "proxyfarm"

    /// The table as it is; a missing table is an empty guard, a failure to read is `unreadable`.
    public func observe() async -> GuardState {
        let command = "list table inet \(Self.table)"
        let output = NFTablesLibrary.run(command, json: true, namespace: namespace)
        guard output.status == 0 else {
            // nft's own answer for a table that does not exist.
            if output.errors.hasPrefix("Error: No such file or directory") { return GuardState() }
            return GuardState(unreadable: "`nft \(command)` failed: " + NetworkError.printable(output.errors.trimmingWhitespace()))
        }
        return parsed.value(of: output.output, NFTablesJSON.guardState)
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
        let output = NFTablesLibrary.run(Self.render(state), json: false, namespace: namespace)
        if output.status != 0 {
            failures.append(.init(change: "guard table inet \(Self.table)",
                                  answer: output.errors.trimmingWhitespace()))
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
}
