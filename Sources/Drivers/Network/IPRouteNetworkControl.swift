import Foundation
import Reconciler

/// The network driver: it observes links, addresses, routes and rules with rtnetlink dumps in this
/// process (`RoutingDump`), and applies a whole farm's changes with iproute2's `ip` in one
/// `ip -force -batch -`. The egress guard goes through nftables (`NFTablesGuard`: libnftables in
/// this process), before any routing change.
///
/// Why both: the look runs every pass, and at 100 modems starting `ip` and parsing its JSON cost
/// more CPU than the rest of an idle pass's network look together; changes are rare, and the
/// batch is what operators read and paste, in the tool they fix things with by hand.
public struct IPRouteNetworkControl: NetworkControl {
    /// Network namespace to work in (`ip -n NS`); nil for the reconciler's own.
    public var namespace: String?
    /// Path or name (looked up on PATH) of iproute2's `ip`.
    public var ipTool: String
    /// Upper bound for one `ip` run.
    public var timeout: Duration
    public var egressGuard: NFTablesGuard

    public init(namespace: String? = nil, ipTool: String = "ip", timeout: Duration = .seconds(10)) {
        self.namespace = namespace
        self.ipTool = ipTool
        self.timeout = timeout
        egressGuard = NFTablesGuard(namespace: namespace)
    }

    /// One rtnetlink dump each of links, IPv4 addresses, routes and rules (`RoutingDump`), in this
    /// process and the driver's namespace.
    public func observe(tables: ClosedRange<Int>) async throws -> NetworkState {
        let place = namespace.map { "network namespace \($0)" } ?? "this network namespace"
        let path = namespace.map(NetworkNamespace.path(ofNamed:)) ?? "/proc/self/ns/net"
        let outcome = NetworkNamespace.run(at: path) { Result { () throws(RoutingDumpError) in try RoutingDump.read(tables: tables) } }
        let dump: RoutingDump
        switch outcome {
        case .failure(let failure):
            throw NetworkError.observeFailed(command: "netlink dump of " + place, message: failure.message)
        case .success(.failure(let failure)):
            throw NetworkError.observeFailed(command: "netlink dump of " + place, message: failure.detail)
        case .success(.success(let read)):
            dump = read
        }
        var state = NetworkState(addresses: dump.addresses, upInterfaces: dump.upInterfaces, routes: dump.routes,
                                 rules: dump.rules, counters: dump.counters)
        state.egressGuard = await egressGuard.observe()
        return state
    }

    /// Sends every change in one `ip -4 -force -batch -`: `-force` keeps going past a line the
    /// kernel refuses, so one bad change cannot hold back the rest of the farm; failures are
    /// reported per change. A value `ip` itself would not parse ends the whole batch, and a blank
    /// or newline in a name would smuggle in another command: such changes are never sent.
    public func apply(_ changes: [NetworkChange]) async throws {
        var failures: [NetworkError.FailedChange] = []
        let guarding = changes.filter(\.isGuard)
        if !guarding.isEmpty {
            let current = await egressGuard.observe()
            do {
                try await egressGuard.apply(guarding, to: current)
            } catch {
                guard case .changesFailed(let failed) = error else { throw error }
                failures += failed
            }
        }
        var lines: [String] = []
        var changeOfLine: [Int: NetworkChange] = [:]
        for change in changes where !change.isGuard {
            if let problem = BatchValidation.problem(in: change) {
                failures.append(.init(change: change.description, answer: "not sent: \(problem)"))
                continue
            }
            for line in Self.batchLines(change) {
                lines.append(line)
                changeOfLine[lines.count] = change
            }
        }
        if !lines.isEmpty {
            let arguments = command(["-4", "-force", "-batch", "-"])
            let output = try await NetworkToolRunner.run(arguments, input: lines.joined(separator: "\n") + "\n", timeout: timeout)
            if output.status != 0 { failures += Self.failures(in: output.stderr, changeOfLine: changeOfLine) }
        }
        if !failures.isEmpty { throw NetworkError.changesFailed(failures) }
    }

    /// The `ip -batch` lines of one change. Replacing an address flushes the interface's IPv4
    /// addresses first (the batch runs with `-4`): the kernel then drops the interface's routes,
    /// which is why the planner re-adds the default route with every address change.
    static func batchLines(_ change: NetworkChange) -> [String] {
        switch change {
        case .setAddress(let interface, let cidr):
            ["address flush dev \(interface)", "address add \(cidr) dev \(interface)"]
        case .linkUp(let interface):
            ["link set dev \(interface) up"]
        case .addRoute(let route):
            ["route replace " + routeSpec(route)]
        case .removeRoute(let route):
            ["route del " + routeSpec(route)]
        case .addRule(let rule):
            ["rule add " + ruleSpec(rule)]
        case .removeRule(let rule):
            ["rule del " + ruleSpec(rule)]
        case .setGuardLane, .removeGuardLane, .setGuardFence:
            []
        }
    }

    /// `onlink` because a modem's gateway need not lie inside its address's prefix.
    private static func routeSpec(_ route: TableRoute) -> String {
        switch route.kind {
        case .defaultVia(let interface, let gateway?):
            "default via \(gateway) dev \(interface) onlink table \(route.table)"
        case .defaultVia(let interface, nil):
            "default dev \(interface) table \(route.table)"
        case .unreachableDefault:
            "unreachable default metric \(UInt32.max) table \(route.table)"
        }
    }

    private static func ruleSpec(_ rule: RoutingRule) -> String {
        let selector = switch rule.selector {
        case .uidRange(let first, let last): "uidrange \(first)-\(last)"
        case .from(let address): "from \(address)"
        case .oif(let interface): "oif \(interface)"
        case .uidTCPSourcePort(let uid, let port): "uidrange \(uid)-\(uid) ipproto tcp sport \(port)"
        }
        return "priority \(rule.priority) \(selector) lookup \(rule.table)"
    }

    /// `ip -batch` prints the kernel's answer, then `Command failed -:LINE`: pair them up.
    private static func failures(in stderr: String, changeOfLine: [Int: NetworkChange]) -> [NetworkError.FailedChange] {
        var failures: [NetworkError.FailedChange] = []
        var answer: [String] = []
        for line in stderr.split(separator: "\n").map(String.init) {
            if line.hasPrefix("Command failed -:"), let number = Int(line.dropFirst("Command failed -:".count)) {
                let change = changeOfLine[number].map(String.init(describing:)) ?? "batch line \(number)"
                failures.append(.init(change: change, answer: answer.joined(separator: " ")))
                answer = []
            } else {
                answer.append(line.replacing("RTNETLINK answers: ", with: ""))
            }
        }
        if failures.isEmpty {
            failures.append(.init(change: "batch", answer: answer.joined(separator: " ")))
        }
        return failures
    }

    private func command(_ arguments: [String]) -> [String] {
        [ipTool] + (namespace.map { ["-n", $0] } ?? []) + arguments
    }
}
