/// Checks across modems: identities and ports must be unique, allocation ranges must fit.
struct FarmChecks {
    var sink: DiagnosticSink

    /// Routing tables the kernel reserves (default, main, local); ours must not overlap them.
    static let reservedTables = 253...255
    /// Priority of the kernel's `lookup main` rule: our rules must come before it.
    static let mainRulePriority = 32766
    /// The `nobody` uid, never a proxy's.
    static let nobody = 65534

    mutating func check(root: CheckedValue, modems: [CheckedValue], portRange: ClosedRange<Int>, routing: RoutingSettings) {
        checkUnique("serial", modems)
        checkUnique("name", modems)
        // Proxy ports are a host's own: they may repeat across hosts (DESIGN §9).
        for (_, hosted) in Dictionary(grouping: modems, by: { $0["host"]?.text ?? "" }).sorted(by: { $0.key < $1.key }) {
            let explicit = checkPorts(hosted, "ports")
            checkPortCapacity(root, hosted, portRange: portRange, explicit: explicit)
        }
        checkRouting(root, count: modems.count, routing: routing)
    }

    static func label(_ modem: CheckedValue) -> String {
        modem.path + (modem["name"]?.text.map { " (\($0))" } ?? "")
    }

    private mutating func checkUnique(_ key: String, _ modems: [CheckedValue]) {
        var owners: [String: CheckedValue] = [:]
        for modem in modems {
            guard let value = modem[key], let text = value.text else { continue }
            if let owner = owners[text] {
                sink.error(value.location, value.path, "'\(text)' is already the \(key) of \(Self.label(owner))")
            } else {
                owners[text] = modem
            }
        }
    }

    /// Every explicit port of `key` (`ports`, `entry`) once; returns them all.
    mutating func checkPorts(_ modems: [CheckedValue], _ key: String) -> Set<Int> {
        var owners: [Int: (modem: CheckedValue, service: String)] = [:]
        for modem in modems {
            for service in ["http", "socks"] {
                guard let value = modem[key]?[service], let port = value.integer else { continue }
                if let owner = owners[port] {
                    let user = owner.modem.path == modem.path ? "this modem's \(owner.service) port" : "used by \(Self.label(owner.modem))"
                    sink.error(value.location, value.path, "\(port) is already \(user)")
                } else {
                    owners[port] = (modem, service)
                }
            }
        }
        return Set(owners.keys)
    }

    /// Explicit ports inside `ports.range` are allowed (the allocator skips them); the rest of the
    /// range must hold every port that has to be allocated.
    private mutating func checkPortCapacity(_ root: CheckedValue, _ modems: [CheckedValue], portRange: ClosedRange<Int>,
                                            explicit: Set<Int>) {
        let needed = modems.reduce(0) { count, modem in
            count + ["http", "socks"].filter { modem["ports"]?[$0] == nil }.count
        }
        let free = portRange.count - explicit.filter(portRange.contains).count
        guard needed > free else { return }
        let range = root["ports"]?["range"]
        sink.error(range?.location ?? root.location, range?.path ?? "ports.range",
                   "\(portRange.lowerBound)-\(portRange.upperBound) has \(free) free ports but \(needed) must be allocated from it; widen the range")
    }

    private mutating func checkRouting(_ root: CheckedValue, count: Int, routing: RoutingSettings) {
        guard count > 0 else { return }
        let first = RoutingSettings.firstModemIndex
        let tables = (routing.tableBase + first)...(routing.tableBase + first + count - 1)
        let tableBase = root["routing"]?["tableBase"]
        let tablesText = "tables \(tables.lowerBound)-\(tables.upperBound) for \(count) modems"
        if tables.overlaps(Self.reservedTables) {
            sink.error(tableBase?.location ?? root.location, tableBase?.path ?? "routing.tableBase",
                       "\(tablesText) overlap the kernel's reserved tables 253-255; use a tableBase of 256 or more")
        } else if tables.upperBound >= Self.mainRulePriority {
            sink.error(tableBase?.location ?? root.location, tableBase?.path ?? "routing.tableBase",
                       "\(tablesText) reach rule priority \(Self.mainRulePriority) (the main table's rule); use a tableBase of at most \(Self.mainRulePriority - count - first)")
        }
        let uids = (routing.uidBase + first)...(routing.uidBase + first + count - 1)
        if uids.contains(Self.nobody) {
            let uidBase = root["routing"]?["uidBase"]
            sink.error(uidBase?.location ?? root.location, uidBase?.path ?? "routing.uidBase",
                       "uids \(uids.lowerBound)-\(uids.upperBound) include \(Self.nobody) (nobody); choose another uidBase")
        }
    }
}
