/// Checks of a farm that spans hosts (DESIGN §9): every modem on a known host, a gateway that can
/// reach every host's `/healthz`, entry ports unique and inside `gateway.ports`.
struct HostChecks {
    var sink: DiagnosticSink

    mutating func check(root: CheckedValue, modems: [CheckedValue]) {
        let hosts = root["hosts"]?.fields.keys.sorted()
        for modem in modems {
            checkHost(modem, hosts: hosts)
            if let entry = modem["entry"], root["gateway"] == nil {
                error(entry, "entry ports need a gateway: add gateway: (listen, ports, allow) or remove entry")
            }
        }
        guard let gateway = root["gateway"] else { return }
        if hosts == nil {
            error(gateway, "the gateway forwards to hosts: add hosts: with every host's address and each modem's host")
        }
        checkHealthEndpoint(root["api"], gateway: gateway)
        for modem in modems {
            let missing = ["http", "socks"].filter { modem["ports"]?[$0] == nil && !(modem["ports"]?.writtenKeys.contains($0) ?? false) }
            guard !missing.isEmpty else { continue }
            sink.error(modem["ports"]?.location ?? modem.location, KeyPath.child(modem.path, "ports"),
                       "the gateway forwards to this modem's proxy ports on its host: name them (missing \(missing.joined(separator: ", ")))")
        }
        var ports = FarmChecks(sink: sink)
        let explicit = ports.checkPorts(modems, "entry")
        sink = ports.sink
        checkEntryRange(gateway, modems: modems, explicit: explicit)
    }

    private mutating func checkHost(_ modem: CheckedValue, hosts: [String]?) {
        let path = KeyPath.child(modem.path, "host")
        switch (modem["host"], hosts) {
        case (let host?, nil):
            error(host, "no hosts are defined: add hosts: (name → address) or remove host")
        case (nil, let hosts?) where !modem.writtenKeys.contains("host"):
            sink.error(modem.location, path, "with hosts set, every modem names its host (one of \(hosts.joined(separator: ", ")))")
        case (let host?, let hosts?):
            guard let name = host.text, !hosts.contains(name) else { return }
            let near = hosts.first { KeySuggestion.distance($0, name) <= 2 }.map { "; did you mean '\($0)'?" }
            error(host, "host '\(name)' is not under hosts" + (near ?? " (hosts: \(hosts.joined(separator: ", ")))"))
        default:
            return
        }
    }

    /// HAProxy health-checks each modem at `http://HOST:API_PORT/healthz/MODEM` on every host.
    private mutating func checkHealthEndpoint(_ api: CheckedValue?, gateway: CheckedValue) {
        guard let api else {
            return error(gateway, "the gateway checks every modem at its host's /healthz: add api: with a listen address the gateway reaches")
        }
        guard let listen = api["listen"], let address = listen.text.flatMap(ListenAddress.init) else { return }
        if address.host == "::1" || address.host.hasPrefix("127.") {
            error(listen, "the gateway cannot reach \(address) on another host: listen on an address it reaches, e.g. \"0.0.0.0:\(address.port)\"")
        }
    }

    /// Explicit entry ports must lie in `gateway.ports`, which must also hold every allocated one.
    private mutating func checkEntryRange(_ gateway: CheckedValue, modems: [CheckedValue], explicit: Set<Int>) {
        let range = gateway["ports"]?.portRange ?? GatewaySettings.defaultPorts
        let rangeText = "\(range.lowerBound)-\(range.upperBound)"
        var needed = 0
        for modem in modems {
            for service in ["http", "socks"] {
                guard let value = modem["entry"]?[service] else {
                    needed += 1
                    continue
                }
                if let port = value.integer, !range.contains(port) {
                    sink.error(value.location, value.path, "\(port) is outside gateway.ports \(rangeText)")
                }
            }
        }
        let free = range.count - explicit.filter(range.contains).count
        guard needed > free else { return }
        error(gateway["ports"] ?? gateway, "\(rangeText) has \(free) free entry ports but \(needed) must be allocated from it; widen gateway.ports")
    }

    private mutating func error(_ value: CheckedValue, _ message: String) {
        sink.error(value.location, value.path, message)
    }
}
