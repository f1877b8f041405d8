import Foundation

/// Builds and removes the lab's namespaces and links with `ip`. Every step checks or replaces
/// rather than adds, so `up` can be repeated and can finish a half-built lab.
struct LabNetwork {
    let topology: LabTopology

    func up() throws(LabError) {
        for namespace in topology.namespaces where !Self.namespaceExists(namespace) {
            try ip("netns", "add", namespace)
        }
        let inet = topology.internetNamespace
        for namespace in topology.namespaces {
            try ip("-n", namespace, "link", "set", "lo", "up")
        }
        if topology.hosts != nil {
            // The lab network: every machine's uplink on one bridge, whose address is everyone's gateway.
            if try !links(in: inet).contains(LabTopology.bridge) {
                try ip("-n", inet, "link", "add", LabTopology.bridge, "type", "bridge")
            }
            try ip("-n", inet, "address", "replace", LabTopology.uplinkGateway + "/24", "dev", LabTopology.bridge)
            try ip("-n", inet, "link", "set", LabTopology.bridge, "up")
            try ip("-n", inet, "address", "replace", LabTopology.customerAddress + "/32", "dev", "lo")
        }
        for machine in topology.machines {
            try uplink(machine)
        }
        try ip("-n", inet, "address", "replace", LabTopology.serverAddress + "/32", "dev", "lo")
        for host in topology.farmHosts {
            try modems(of: host)
        }
    }

    /// The machine's `eth0` with the main table's default route via 192.0.2.1, paired with its
    /// peer in `inet`: the peer carries 192.0.2.1 itself (one host) or joins the bridge.
    private func uplink(_ machine: LabTopology.Machine) throws(LabError) {
        let inet = topology.internetNamespace
        let namespace = machine.namespace
        if try !links(in: namespace).contains("eth0") {
            try ip("-n", namespace, "link", "add", "eth0", "type", "veth", "peer", "name", machine.peer, "netns", inet)
        }
        try ip("-n", namespace, "address", "replace", machine.address + "/24", "dev", "eth0")
        if topology.hosts == nil {
            try ip("-n", inet, "address", "replace", LabTopology.uplinkGateway + "/24", "dev", machine.peer)
        } else {
            try ip("-n", inet, "link", "set", machine.peer, "master", LabTopology.bridge)
        }
        try ip("-n", namespace, "link", "set", "eth0", "up")
        try ip("-n", inet, "link", "set", machine.peer, "up")
        try ip("-n", namespace, "route", "replace", "default", "via", LabTopology.uplinkGateway, "dev", "eth0")
    }

    /// One veth per modem of the host (`wwanN` here, `carrierN` in `inet`); modems beyond its
    /// share are unplugged (deleting one end of a veth deletes both).
    private func modems(of host: LabTopology.Machine) throws(LabError) {
        let namespace = host.namespace
        let inet = topology.internetNamespace
        for interface in try links(in: namespace) {
            guard let modem = LabTopology.modemNumber(ofInterface: interface), !host.modems.contains(modem) else { continue }
            try ip("-n", namespace, "link", "delete", interface)
        }
        let hostLinks = try links(in: namespace)
        for modem in host.modems {
            let wwan = LabTopology.modemInterface(modem)
            let carrier = LabTopology.carrierInterface(modem)
            if !hostLinks.contains(wwan) {
                // wwanN stays down, as a real modem's interface is until the reconciler connects it.
                try ip("-n", namespace, "link", "add", wwan, "type", "veth", "peer", "name", carrier, "netns", inet)
            }
            try ip("-n", inet, "address", "replace", LabTopology.carrierGateway(modem) + "/24", "dev", carrier)
            try ip("-n", inet, "link", "set", carrier, "up")
        }
    }

    /// Moves modem `modem`'s link (`wwanN`, down and without addresses, as after an unplug) from one
    /// host's namespace to another's: the lab's hardware for "the modem now sits in another host".
    func move(modem: Int, from: LabTopology.Machine, to: LabTopology.Machine) throws(LabError) {
        let wwan = LabTopology.modemInterface(modem)
        try ip("-n", from.namespace, "link", "set", wwan, "down")
        try ip("-n", from.namespace, "address", "flush", "dev", wwan)
        try ip("-n", from.namespace, "link", "set", wwan, "netns", to.namespace)
    }

    /// Stops every process still inside the lab's namespaces (simulators, proxies, daemons, HAProxy:
    /// all started for the lab), then deletes the namespaces, which deletes their links.
    /// Returns what it removed.
    func down() throws(LabError) -> [String] {
        var removed: [String] = []
        let existing = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
            .filter { LabTopology.isLabNamespace($0, name: topology.name) }.sorted()
        // The internet last: the farm side's processes first, so nothing reconnects meanwhile.
        for namespace in existing.filter({ $0 != topology.internetNamespace }) + existing.filter({ $0 == topology.internetNamespace }) {
            let pids = try CommandRunner.run("ip", ["netns", "pids", namespace])
                .split(whereSeparator: \.isNewline).compactMap { Int32($0) }
            ProcessStopper.stop(pids)
            try ip("netns", "delete", namespace)
            removed.append("namespace \(namespace)" + (pids.isEmpty ? "" : " and \(pids.count) process(es) in it"))
        }
        return removed
    }

    static func namespaceExists(_ namespace: String) -> Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(namespace)")
    }

    private func links(in namespace: String) throws(LabError) -> Set<String> {
        struct Link: Decodable { var ifname: String }
        let json = try CommandRunner.run("ip", ["-n", namespace, "-json", "link", "show"])
        guard let links = try? JSONDecoder().decode([Link].self, from: Data(json.utf8)) else {
            throw .commandFailed(command: "ip -n \(namespace) -json link show", status: 0, output: "unreadable JSON")
        }
        return Set(links.map(\.ifname))
    }

    private func ip(_ arguments: String...) throws(LabError) {
        try CommandRunner.run("ip", arguments)
    }
}

/// SIGTERM, a short grace period, then SIGKILL for whatever is left.
enum ProcessStopper {
    static func stop(_ pids: [Int32], grace: Duration = .seconds(3)) {
        guard !pids.isEmpty else { return }
        for pid in pids { kill(pid, SIGTERM) }
        guard !waitUntilGone(pids, timeout: grace) else { return }
        for pid in pids where isAlive(pid) { kill(pid, SIGKILL) }
        _ = waitUntilGone(pids, timeout: .seconds(2))
    }

    private static func waitUntilGone(_ pids: [Int32], timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while pids.contains(where: isAlive) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    /// Alive and not a zombie: a zombie whose parent has not reaped it yet is already gone for us.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }
}
