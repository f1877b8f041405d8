import Foundation
import Reconciler

/// The network driver, with iproute2's `ip`: it observes links, addresses, routes and rules with
/// one `ip -json -batch -`, and applies a whole farm's changes in one `ip -force -batch -`. The
/// egress guard goes through nftables (`NFTablesGuard`: libnftables in this process), before any
/// routing change.
///
/// Why `ip` and not netlink directly: one batch of 300 changes takes ~10 ms, a dump ~6 ms, so a
/// netlink library would buy nothing measurable, while `ip` output is what operators read and
/// paste, and it is the same tool they fix things with by hand.
public struct IPRouteNetworkControl: NetworkControl {
    /// Network namespace to work in (`ip -n NS`); nil for the reconciler's own.
    public var namespace: String?
    /// Path or name (looked up on PATH) of iproute2's `ip`.
    public var ipTool: String
    /// Upper bound for one `ip` run.
    public var timeout: Duration
    public var egressGuard: NFTablesGuard
    private let parsed = (addresses: LastParsed<[String: [String]]>(), routes: LastParsed<[TableRoute]>(), rules: LastParsed<[RoutingRule]>())

    public init(namespace: String? = nil, ipTool: String = "ip", timeout: Duration = .seconds(10)) {
        self.namespace = namespace
        self.ipTool = ipTool
        self.timeout = timeout
        egressGuard = NFTablesGuard(namespace: namespace)
    }

    /// `-4` lists only interfaces that have an IPv4 address under `address show`, so `link show`
    /// says which interfaces exist and which are up; `-s` adds their byte counters (routes and
    /// rules print the same with it). Only default routes are ever ours (`exact 0/0`: a third of
    /// the text `table all` prints for a large farm). Each command prints one JSON list per line.
    public func observe(tables: ClosedRange<Int>) async throws -> NetworkState {
        var state = try await read(["-s", "-N", "-4", "-json", "-batch", "-"], input: "link show\naddress show\nroute show table all exact 0/0\nrule show\n") {
            data throws(IPRouteJSONError) in
            // Split as raw bytes: Data's own split walks it element by element through its generic slices.
            let lists = data.withUnsafeBytes { $0.split(separator: UInt8(ascii: "\n")).map { Data($0) } }
            guard lists.count == 4 else { throw IPRouteJSONError("\(lists.count) JSON lists for 4 commands") }
            // The counters change all the time; addresses, routes and rules of an idle farm do not.
            let links = try IPRouteJSON.links(lists[0])
            var addresses = try parsed.addresses.value(of: lists[1], IPRouteJSON.addresses)
            for name in links.names where addresses[name] == nil { addresses[name] = [] }
            let routes = try parsed.routes.value(of: lists[2] + Data("\(tables)".utf8)) { _ throws(IPRouteJSONError) in
                try IPRouteJSON.routes(lists[2], tables: tables)
            }
            return NetworkState(addresses: addresses, upInterfaces: links.up, routes: routes,
                                rules: try parsed.rules.value(of: lists[3], IPRouteJSON.rules), counters: links.counters)
        }
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
                answer.append(line.replacingOccurrences(of: "RTNETLINK answers: ", with: ""))
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

    private func read<T>(_ arguments: [String], input: String, _ parse: (Data) throws(IPRouteJSONError) -> T) async throws(NetworkError) -> T {
        let full = command(arguments)
        let output = try await NetworkToolRunner.run(full, input: input, timeout: timeout)
        let shown = full.joined(separator: " ")
        guard output.status == 0 else {
            throw .observeFailed(command: shown, message: output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        do {
            return try parse(output.stdout)
        } catch {
            throw .unexpectedOutput(command: shown, detail: error.detail)
        }
    }
}
