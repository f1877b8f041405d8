import Foundation

/// Builds and removes the lab's namespaces and links with `ip`. Every step checks or replaces
/// rather than adds, so `up` can be repeated and can finish a half-built lab.
struct LabNetwork {
    let topology: LabTopology

    func up() throws(LabError) {
        for namespace in topology.namespaces where !Self.namespaceExists(namespace) {
            try ip("netns", "add", namespace)
        }
        let farm = topology.farmNamespace
        let inet = topology.internetNamespace
        for namespace in topology.namespaces {
            try ip("-n", namespace, "link", "set", "lo", "up")
        }
        var farmLinks = try links(in: farm)
        if !farmLinks.contains("eth0") {
            try ip("-n", farm, "link", "add", "eth0", "type", "veth", "peer", "name", "uplink0", "netns", inet)
        }
        try ip("-n", farm, "address", "replace", LabTopology.uplinkAddress, "dev", "eth0")
        try ip("-n", inet, "address", "replace", LabTopology.uplinkGateway + "/24", "dev", "uplink0")
        try ip("-n", farm, "link", "set", "eth0", "up")
        try ip("-n", inet, "link", "set", "uplink0", "up")
        try ip("-n", farm, "route", "replace", "default", "via", LabTopology.uplinkGateway, "dev", "eth0")
        try ip("-n", inet, "address", "replace", LabTopology.serverAddress + "/32", "dev", "lo")

        // Modems beyond --modems are unplugged (deleting one end of a veth deletes both).
        for interface in farmLinks {
            guard let modem = LabTopology.modemNumber(ofInterface: interface), !topology.modems.contains(modem) else { continue }
            try ip("-n", farm, "link", "delete", interface)
        }
        farmLinks = try links(in: farm)
        for modem in topology.modems {
            let wwan = LabTopology.modemInterface(modem)
            let carrier = LabTopology.carrierInterface(modem)
            if !farmLinks.contains(wwan) {
                // wwanN stays down, as a real modem's interface is until the reconciler connects it.
                try ip("-n", farm, "link", "add", wwan, "type", "veth", "peer", "name", carrier, "netns", inet)
            }
            try ip("-n", inet, "address", "replace", LabTopology.carrierGateway(modem) + "/24", "dev", carrier)
            try ip("-n", inet, "link", "set", carrier, "up")
        }
    }

    /// Stops every process still inside the lab's namespaces (simulators, proxies, a lab daemon:
    /// all started for the lab), then deletes the namespaces, which deletes their links.
    /// Returns what it removed.
    func down() throws(LabError) -> [String] {
        var removed: [String] = []
        for namespace in topology.namespaces where Self.namespaceExists(namespace) {
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
