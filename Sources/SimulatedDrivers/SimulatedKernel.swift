import Reconciler

/// The kernel and process side of the simulated farm: addresses, routes, rules and proxies.
extension SimulatedFarm {
    /// The simulated kernel's network state, for assertions.
    public var network: NetworkState { networkState }

    /// Adds a rule as another program would (ProxyFarm must leave it alone unless it is ours).
    public func addRule(_ rule: RoutingRule) { networkState.rules.append(rule) }
    public func addRoute(_ route: TableRoute) { networkState.routes.append(route) }
    /// Changes the kernel behind ProxyFarm's back, as an operator's `ip rule flush` or `nft flush ruleset` would.
    public func tamper(_ change: (inout NetworkState) -> Void) { change(&networkState) }

    func observeNetwork(tables: ClosedRange<Int>) async throws -> NetworkState {
        _ = try await gate(.observeNetwork, "")
        var state = networkState
        state.routes = state.routes.filter { tables.contains($0.table) }
        return state
    }

    func applyNetwork(_ changes: [NetworkChange]) async throws {
        guard try await gate(.applyNetwork, "") else { return }
        var state = networkState
        for change in changes {
            switch change {
            case .setAddress(let interface, let cidr):
                guard state.addresses[interface] != nil else { throw missing("device \(interface)") }
                if state.addresses[interface] != [cidr] {
                    // Like the kernel: routes through a device go when its address is replaced.
                    state.routes.removeAll { if case .defaultVia(interface, _) = $0.kind { true } else { false } }
                }
                state.addresses[interface] = [cidr]
            case .linkUp(let interface):
                guard state.addresses[interface] != nil else { throw missing("device \(interface)") }
                state.upInterfaces.insert(interface)
            case .addRoute(let route):
                // A table's route is identified by destination and metric: a new default replaces the old one.
                state.routes.removeAll { $0.table == route.table && $0.kind != .unreachableDefault && route.kind != .unreachableDefault }
                state.routes.append(route)
            case .removeRoute(let route):
                guard let index = state.routes.firstIndex(of: route) else { throw missing(route.description) }
                state.routes.remove(at: index)
            case .addRule(let rule):
                state.rules.append(rule)
            case .removeRule(let rule):
                guard let index = state.rules.firstIndex(of: rule) else { throw missing(rule.description) }
                state.rules.remove(at: index)
            case .setGuardLane, .removeGuardLane, .setGuardFence:
                state.egressGuard = state.egressGuard.applying(change)
                // Like nftables: a lane written anew counts its refusals from zero.
                if case .setGuardLane(let lane) = change { state.egressGuard.refusedPackets[lane.uid] = 0 }
                if case .removeGuardLane(let uid) = change { state.egressGuard.refusedPackets[uid] = nil }
            }
        }
        networkState = state
    }

    private func missing(_ what: String) -> SimulatedError {
        SimulatedError(reason: "NoSuchObject", message: "\(what) does not exist")
    }

    // MARK: proxies

    /// A running proxy's pid, for assertions.
    public func proxyPID(_ modem: String) -> Int32? { proxies[modem]?.pid }
    public func proxyReloads(_ modem: String) -> Int { proxies[modem]?.reloads ?? 0 }
    public func proxyConfig(_ modem: String) -> String? { configs[modem] }

    /// The proxy dies (as after a crash): the next look finds it gone.
    public func killProxy(_ modem: String) { proxies[modem] = nil }

    /// Another process listening on `ports`, returns its pid.
    public func startStray(ports: [Int]) -> Int32 {
        nextPid += 1
        strays[nextPid] = ports
        return nextPid
    }

    func observeProxies(ports: [String: [Int]]) async throws -> [String: ProxyObservation] {
        _ = try await gate(.observeProxies, "")
        var result: [String: ProxyObservation] = [:]
        for name in Set(ports.keys).union(proxies.keys) {
            let wanted = Set(ports[name] ?? [])
            let process = proxies[name].map { ProxyProcess(pid: $0.pid, configPath: "/simulated/proxies/\(name).cfg", listening: $0.listening) }
            let stray = strays.filter { !wanted.isDisjoint(with: $0.value) }.map(\.key).sorted()
            guard process != nil || configs[name] != nil || !stray.isEmpty else { continue }
            result[name] = ProxyObservation(process: process, config: configs[name], strays: stray, counters: proxyCounters[name])
        }
        return result
    }

    func writeConfig(modem: String, config: String) async throws {
        guard try await gate(.writeConfig, modem, tracked: true) else { return }
        configs[modem] = config
    }

    func startProxy(modem: String, ports: [Int]) async throws -> ProxyProcess {
        guard try await gate(.startProxy, modem, tracked: true) else {
            throw SimulatedError(reason: "Ignored", message: "start was ignored")
        }
        guard configs[modem] != nil else { throw SimulatedError(reason: "NoConfig", message: "no config for \(modem)") }
        if let taken = strays.first(where: { !Set($0.value).isDisjoint(with: ports) }) {
            throw SimulatedError(reason: "AddressInUse", message: "pid \(taken.key) already listens on a port of \(modem)")
        }
        let proxy = proxies[modem] ?? {
            nextPid += 1
            return Proxy(pid: nextPid, ports: ports)
        }()
        proxies[modem] = proxy
        return ProxyProcess(pid: proxy.pid, configPath: "/simulated/proxies/\(modem).cfg", listening: true)
    }

    func reloadProxy(modem: String, pid: Int32) async throws {
        guard try await gate(.reloadProxy, modem, tracked: true) else { return }
        guard proxies[modem]?.pid == pid else { throw SimulatedError(reason: "NotRunning", message: "pid \(pid) is not \(modem)'s proxy") }
        proxies[modem]?.reloads += 1
    }

    func stopProxy(modem: String, pid: Int32) async throws {
        guard try await gate(.stopProxy, modem, tracked: true) else { return }
        if strays.removeValue(forKey: pid) != nil { return }
        if proxies[modem]?.pid == pid { proxies[modem] = nil }
    }
}
