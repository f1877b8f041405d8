/// Turns the checked tree into a `FarmSpec`: applies `defaults` to every modem key by key and
/// checks what no single value can show on its own (references, secrets, timing).
struct FarmBuilder {
    var sink: DiagnosticSink
    let secrets: SecretChecker

    static let defaultPortRange = 20000...29999

    mutating func build(_ root: CheckedValue) -> FarmSpec? {
        let routing = RoutingSettings(
            tableBase: root["routing"]?["tableBase"]?.integer ?? RoutingSettings().tableBase,
            uidBase: root["routing"]?["uidBase"]?.integer ?? RoutingSettings().uidBase)
        let portRange = root["ports"]?["range"]?.portRange ?? Self.defaultPortRange
        let users = buildUsers(root["users"])
        // Every well-named user counts as defined, even one whose password is wrong: that is
        // reported once, not again at every reference.
        let userNames = Set((root["users"]?.fields ?? [:]).keys)
        let defaults = root["defaults"] ?? .emptyMapping(path: "defaults")
        secrets.check(defaults["pin"], as: .pin, into: &sink)
        checkReferences(defaults["proxy"]?["users"], userNames)

        let modemValues = root["modems"]?.list ?? []
        let modems = modemValues.compactMap { buildModem($0, defaults: defaults, userNames: userNames) }
        var farmChecks = FarmChecks(sink: sink)
        farmChecks.check(root: root, modems: modemValues, portRange: portRange, routing: routing)
        sink = farmChecks.sink
        var hostChecks = HostChecks(sink: sink)
        hostChecks.check(root: root, modems: modemValues)
        sink = hostChecks.sink
        warnUnusedUsers(root["users"], modems: modemValues, defaults: defaults)

        let api = buildAPI(root["api"])
        guard let version = root["version"]?.integer, root["modems"] != nil, modems.count == modemValues.count,
              root["api"] == nil || api != nil else {
            return nil
        }
        return FarmSpec(version: version, portRange: portRange, routing: routing, users: users, modems: modems, api: api,
                        hosts: Self.hosts(root["hosts"]), gateway: Self.gateway(root["gateway"]))
    }

    private static func hosts(_ value: CheckedValue?) -> [HostSpec] {
        (value?.fields ?? [:]).sorted { $0.key < $1.key }.compactMap { name, host in
            host["address"]?.text.map { HostSpec(name: name, address: $0) }
        }
    }

    private static func gateway(_ value: CheckedValue?) -> GatewaySettings? {
        guard let value, let allow = value["allow"]?.list?.compactMap(\.cidr) else { return nil }
        return GatewaySettings(listen: value["listen"]?.text ?? "0.0.0.0", ports: value["ports"]?.portRange ?? GatewaySettings.defaultPorts,
                               allow: allow, checkInterval: value["checkInterval"]?.duration ?? GatewaySettings.defaultCheckInterval,
                               metrics: value["metrics"]?.text.flatMap(ListenAddress.init))
    }

    private mutating func buildAPI(_ api: CheckedValue?) -> APISettings? {
        guard let api else { return nil }
        secrets.check(api["token"], as: .token, into: &sink)
        guard let listen = api["listen"]?.text.flatMap(ListenAddress.init), let token = SecretChecker.source(of: api["token"]) else {
            return nil
        }
        return APISettings(listen: listen, token: token)
    }

    /// A modem's link, its `minInterval` inherited from `defaults.link`; nil without a token.
    private mutating func buildLink(own: CheckedValue?, merged: CheckedValue?) -> LinkSettings? {
        secrets.check(own?["token"], as: .token, into: &sink)
        guard let token = SecretChecker.source(of: own?["token"]) else { return nil }
        return LinkSettings(token: token, minInterval: merged?["minInterval"]?.duration ?? LinkSettings.defaultMinInterval)
    }

    private mutating func buildUsers(_ value: CheckedValue?) -> [User] {
        guard let value else { return [] }
        return value.fields.sorted { $0.key < $1.key }.compactMap { name, user in
            let password = user["password"]
            secrets.check(password, as: .password, user: name, into: &sink)
            return SecretChecker.source(of: password).map { User(name: name, password: $0, quota: user["quota"]?.quota) }
        }
    }

    private mutating func buildModem(_ modem: CheckedValue, defaults: CheckedValue, userNames: Set<String>) -> ModemSpec? {
        let merged = modem.overriding(defaults)
        secrets.check(modem["pin"], as: .pin, into: &sink)
        checkReferences(modem["users"], userNames)
        checkReferences(modem["proxy"]?["users"], userNames)
        if let shorthand = modem["users"], modem["proxy"]?["users"] != nil {
            sink.error(shorthand.location, shorthand.path, "users are set both here and in proxy.users; keep one")
        }
        if merged["apn"] == nil && !merged.writtenKeys.contains("apn") {
            sink.error(modem.location, KeyPath.child(modem.path, "apn"), "no apn: set apn on this modem or in defaults")
        }
        let proxy = buildProxy(merged["proxy"], users: modem["users"]?.texts, modem: modem)
        let health = buildHealth(merged["health"])
        guard let serial = modem["serial"]?.text, let name = modem["name"]?.text, let apn = merged["apn"]?.text,
              let proxy, let health else { return nil }
        return ModemSpec(
            serial: serial, name: name, apn: apn,
            ipType: merged["ipType"]?.text.flatMap(IPType.init(rawValue:)) ?? .ipv4,
            pin: SecretChecker.source(of: merged["pin"]),
            ports: PortRequest(http: modem["ports"]?["http"]?.integer, socks: modem["ports"]?["socks"]?.integer),
            proxy: proxy, health: health,
            rotation: Self.rotation(merged["rotation"]),
            enabled: modem["enabled"]?.boolean ?? true,
            link: buildLink(own: modem["link"], merged: merged["link"]),
            host: modem["host"]?.text,
            entry: PortRequest(http: modem["entry"]?["http"]?.integer, socks: modem["entry"]?["socks"]?.integer))
    }

    private mutating func buildProxy(_ proxy: CheckedValue?, users shorthand: [String]?, modem: CheckedValue) -> ProxySettings? {
        let fallback = ProxySettings()
        let settings = ProxySettings(
            listen: proxy?["listen"]?.text ?? fallback.listen,
            http: proxy?["http"]?.boolean ?? fallback.http,
            socks: proxy?["socks"]?.boolean ?? fallback.socks,
            users: shorthand ?? proxy?["users"]?.texts ?? [],
            allow: proxy?["allow"]?.list?.compactMap(\.cidr) ?? [],
            maxConnections: proxy?["maxConnections"]?.integer ?? fallback.maxConnections,
            bandwidth: Bandwidth(inBitsPerSecond: proxy?["bandwidth"]?["in"]?.bitsPerSecond,
                                 outBitsPerSecond: proxy?["bandwidth"]?["out"]?.bitsPerSecond),
            dns: proxy?["dns"]?.texts ?? [])
        let usersWritten = shorthand != nil || proxy?.writtenKeys.contains("users") == true
        if settings.users.isEmpty && !usersWritten && (settings.http || settings.socks) {
            sink.error(modem.location, KeyPath.child(modem.path, "proxy.users"),
                       "nobody can use this modem's proxy: list users in proxy.users here or in defaults (or set proxy.http and proxy.socks to false)")
            return nil
        }
        return settings
    }

    private mutating func buildHealth(_ health: CheckedValue?) -> HealthSettings? {
        let fallback = HealthSettings()
        let settings = HealthSettings(
            url: health?["url"]?.text ?? fallback.url,
            interval: health?["interval"]?.duration ?? fallback.interval,
            timeout: health?["timeout"]?.duration ?? fallback.timeout,
            failuresBeforeReset: health?["failuresBeforeReset"]?.integer ?? fallback.failuresBeforeReset,
            powerCycle: health?["powerCycle"]?.boolean ?? fallback.powerCycle)
        guard settings.timeout < settings.interval else {
            let culprit = health?["timeout"] ?? health?["interval"]
            sink.error(culprit?.location ?? .start, culprit?.path ?? "health",
                       "health.timeout (\(Self.text(settings.timeout))) must be shorter than health.interval (\(Self.text(settings.interval)))")
            return nil
        }
        return settings
    }

    /// A duration the way farm.yaml writes it: `90s`, `10m`, `2h`.
    static func text(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    private static func rotation(_ value: CheckedValue?) -> Rotation {
        switch value?.choice {
        case ("every", let every)?: every.duration.map(Rotation.every) ?? .never
        case ("at", let at)?: .at((at.list ?? []).compactMap(\.timeOfDay).sorted())
        default: .never
        }
    }

    private mutating func checkReferences(_ list: CheckedValue?, _ defined: Set<String>) {
        for item in list?.list ?? [] {
            guard let name = item.text, !defined.contains(name) else { continue }
            let known = defined.sorted()
            let near = known.first { KeySuggestion.distance($0, name) <= 2 }.map { "; did you mean '\($0)'?" }
            let listing = known.isEmpty ? " (no users are defined)" : " (defined: \(known.joined(separator: ", ")))"
            sink.error(item.location, item.path, "user '\(name)' is not defined under users" + (near ?? listing))
        }
    }

    private mutating func warnUnusedUsers(_ users: CheckedValue?, modems: [CheckedValue], defaults: CheckedValue) {
        var referenced = Set(defaults["proxy"]?["users"]?.texts ?? [])
        for modem in modems {
            referenced.formUnion(modem["users"]?.texts ?? [])
            referenced.formUnion(modem["proxy"]?["users"]?.texts ?? [])
        }
        for (name, user) in (users?.fields ?? [:]) where !referenced.contains(name) {
            sink.warning(user.location, user.path, "user '\(name)' is defined but no modem lists it")
        }
    }
}

extension CheckedValue {
    var cidr: CIDR? {
        guard case .cidr(let value) = scalar else { return nil }
        return value
    }

    var timeOfDay: TimeOfDay? {
        guard case .time(let value) = scalar else { return nil }
        return value
    }

    var portRange: ClosedRange<Int>? {
        guard case .portRange(let value) = scalar else { return nil }
        return value
    }
}
