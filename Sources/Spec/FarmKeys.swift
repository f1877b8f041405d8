/// The one declaration of farm.yaml's keys. The validator's structural checks (unknown keys,
/// types, required keys, value formats) and `FarmSchema.jsonSchema()` are both driven by this
/// table, so what an editor accepts and what `reconcile validate` accepts cannot drift apart.
enum FarmKeys {
    static let root: ValueType = .object([
        Key("version", .integer(1...1), required: true,
            doc: "Schema version of this file. Only 1 exists."),
        Key("defaults", .object(inheritable + [Key("link", .object(linkShared), doc: "Change-IP link settings every modem inherits.")]),
            doc: "Settings every modem inherits; a modem overrides any of them key by key."),
        Key("ports", .object(portAllocation), doc: "Automatic port allocation."),
        Key("routing", .object(routing), doc: "Per-modem routing tables and proxy uids."),
        Key("api", .object(api), doc: "The control API and dashboard of `reconcile serve`; without it serve refuses to start."),
        Key("users", .dictionary(names: .userName, values: .object(user)),
            doc: "Proxy users by name (letters, digits, '.', '_', '-')."),
        Key("modems", .list(of: .object(modemOwn + inheritable), unique: false, nonEmpty: false), required: true,
            doc: "The modems of the farm, each with its own proxy port pair."),
        Key("hosts", .dictionary(names: .name, values: .object(host)),
            doc: "The farm's hosts by name (as `reconcile daemon --host` names them); absent = a one-host farm. With hosts, every modem names its host."),
        Key("gateway", .object(gateway), doc: "The customers' HAProxy entry gateway (`reconcile gateway`): one entry port pair per modem."),
    ])

    static let host: [Key] = [
        Key("address", .text(.ipAddress), required: true,
            doc: "IP address the gateway reaches this host at (LAN, WireGuard, Tailscale)."),
    ]

    static let gateway: [Key] = [
        Key("listen", .text(.ipAddress), default: .string("0.0.0.0"), doc: "IP address the entry ports listen on."),
        Key("ports", .text(.portRange),
            default: .string("\(GatewaySettings.defaultPorts.lowerBound)-\(GatewaySettings.defaultPorts.upperBound)"),
            doc: "Entry ports (FIRST-LAST) from which modems that name none get a sticky allocation in the gateway's state."),
        Key("allow", .list(of: .text(.cidr), unique: true, nonEmpty: true), required: true,
            doc: "Customer networks (CIDR or single IP) the gateway accepts; every other source is refused. [0.0.0.0/0] = anyone."),
        Key("checkInterval", .text(.duration), default: .string(FarmBuilder.text(GatewaySettings.defaultCheckInterval)),
            doc: "How often the gateway asks each modem's host /healthz/MODEM; two answers in a row take a modem out of or back into service."),
        Key("metrics", .text(.listenAddress), doc: "IP:PORT of HAProxy's Prometheus exporter (/metrics); unset = none."),
    ]

    /// Defaults shown in the schema come from the value types' own defaults, which the builder applies.
    static let portRangeDefault = "\(FarmBuilder.defaultPortRange.lowerBound)-\(FarmBuilder.defaultPortRange.upperBound)"

    static let portAllocation: [Key] = [
        Key("range", .text(.portRange), default: .string(portRangeDefault),
            doc: "Ports (FIRST-LAST) from which modems that name no ports get a sticky allocation."),
    ]

    static let api: [Key] = [
        Key("listen", .text(.listenAddress), required: true,
            doc: "IP address and port the API listens on, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"."),
        Key("token", tokenSource, required: true,
            doc: "The operator's bearer token for the API and the dashboard: exactly one of file, env, value."),
    ]

    /// `link` keys a modem may inherit from `defaults.link`.
    static let linkShared: [Key] = [
        Key("minInterval", .text(.duration), default: .string(FarmBuilder.text(LinkSettings.defaultMinInterval)),
            doc: "The link rotates the modem at most this often; a call sooner is refused with the seconds to wait."),
    ]

    static let user: [Key] = [
        Key("password", passwordSource, required: true,
            doc: "Where the password comes from: exactly one of file, hash, env, value."),
        Key("quota", .text(.quota),
            doc: "Traffic (in and out together) this user may pass through each modem's proxy per day, week (from Sunday, as 3proxy counts), month or in total, e.g. \"50GB per month\"; 1 GB = 1024 MB, whole MB only; over it 3proxy refuses the user (HTTP 503, SOCKS5 reply 2); unset = unlimited."),
    ]

    static let routing: [Key] = [
        Key("tableBase", .integer(1...32765), default: .integer(RoutingSettings().tableBase),
            doc: "Modem k (from 1) gets routing table and rule priority tableBase+k; priority tableBase holds the rules for the proxies' replies; the range must stay clear of the kernel's tables 253-255 and below the main rule (32766)."),
        Key("uidBase", .integer(1000...2_000_000_000), default: .integer(RoutingSettings().uidBase),
            doc: "Modem k (from 1) runs its proxy as the unprivileged uid and gid uidBase+k."),
    ]

    /// Keys that `defaults` may set and every modem may override.
    static let inheritable: [Key] = [
        Key("apn", .text(.apn), doc: "Access point name of the mobile operator (required here or on every modem)."),
        Key("ipType", .text(.ipType), default: .string(IPType.ipv4.rawValue), doc: "IP family of the data session: ipv4, ipv6 or ipv4v6."),
        Key("pin", pinSource, doc: "SIM PIN (4-8 digits): exactly one of file, env, value."),
        Key("proxy", .object(proxy), doc: "The modem's 3proxy."),
        Key("health", .object(health), doc: "Health probing."),
        Key("rotation", rotation, default: .string("never"),
            doc: "When to get a new public IP: never, {every: DURATION} or {at: [\"HH:MM\", ...]}."),
    ]

    static let proxy: [Key] = [
        Key("listen", .text(.ipAddress), default: .string(ProxySettings().listen),
            doc: "IP address the proxy ports listen on (an IP literal, not an interface name)."),
        Key("http", .boolean, default: .bool(ProxySettings().http), doc: "Serve an HTTP proxy (with CONNECT)."),
        Key("socks", .boolean, default: .bool(ProxySettings().socks), doc: "Serve a SOCKS5 proxy."),
        Key("users", .list(of: .text(.userName), unique: true, nonEmpty: false),
            doc: "Names of the users (defined under users) who may use the proxy."),
        Key("allow", .list(of: .text(.cidr), unique: true, nonEmpty: false),
            doc: "Client networks (CIDR or single IP) allowed; empty = any client that authenticates."),
        Key("maxConnections", .integer(1...100_000), default: .integer(ProxySettings().maxConnections),
            doc: "Concurrent connections per proxy service."),
        Key("bandwidth", .object([
            Key("in", .text(.bandwidth), doc: "Download limit per user, e.g. 20mbit; unset = unlimited."),
            Key("out", .text(.bandwidth), doc: "Upload limit per user, e.g. 5mbit; unset = unlimited."),
            ]), doc: "Per-user bandwidth limits."),
        Key("dns", .list(of: .text(.ipAddress), unique: true, nonEmpty: false),
            doc: "Resolvers (IP literals) for the proxy's own lookups; empty = the system resolver."),
    ]

    static let health: [Key] = [
        Key("url", .text(.url), default: .string(HealthSettings().url),
            doc: "http(s) URL fetched through the modem to prove it works."),
        Key("interval", .text(.duration), default: .string(FarmBuilder.text(HealthSettings().interval)), doc: "Time between probes."),
        Key("timeout", .text(.duration), default: .string(FarmBuilder.text(HealthSettings().timeout)), doc: "Time a probe may take; shorter than interval."),
        Key("failuresBeforeReset", .integer(1...100), default: .integer(HealthSettings().failuresBeforeReset),
            doc: "Consecutive failed probes after which the modem is reset."),
        Key("powerCycle", .boolean, default: .bool(HealthSettings().powerCycle),
            doc: "When QMI stops answering and USB re-enumeration did not bring it back: power-cycle the modem's hub port with uhubctl (needs a hub that switches port power)."),
    ]

    static let rotation: ValueType = .wordOr("never", .oneOf([
        Key("every", .text(.duration), doc: "Rotate the public IP at this interval, e.g. 30m."),
        Key("at", .list(of: .text(.timeOfDay), unique: true, nonEmpty: true),
            doc: "Rotate at these local times of day, quoted \"HH:MM\"."),
    ], secret: false))

    /// Keys only a modem has.
    static let modemOwn: [Key] = [
        Key("serial", .text(.serial), required: true, doc: "IMEI or USB serial number, quoted: the modem's identity."),
        Key("name", .text(.name), required: true,
            doc: "Short unique label (a-z, 0-9, '_', '-'; up to 32): status file name and metrics label."),
        Key("enabled", .boolean, default: .bool(true), doc: "false tears the modem's proxy and session down but keeps its allocations."),
        Key("ports", .object(modemPorts), doc: "Explicit proxy ports."),
        Key("host", .text(.name), doc: "The host (under hosts) that carries this modem; required when hosts is set."),
        Key("entry", .object(entryPorts), doc: "Explicit entry ports at the gateway."),
        Key("users", .list(of: .text(.userName), unique: true, nonEmpty: false),
            doc: "Shorthand for proxy.users on this modem."),
        Key("link", .object([
            Key("token", tokenSource, required: true,
                doc: "The secret in the customer's change-IP link /v1/link/TOKEN: exactly one of file, env, value."),
        ] + linkShared), doc: "The customer's change-IP link of this modem (served by `reconcile serve`)."),
    ]

    static let modemPorts: [Key] = [
        Key("http", .integer(1...65535), doc: "Explicit HTTP proxy port; unset = allocated from ports.range."),
        Key("socks", .integer(1...65535), doc: "Explicit SOCKS5 port; unset = allocated from ports.range."),
    ]

    static let entryPorts: [Key] = [
        Key("http", .integer(1...65535), doc: "Entry port for the HTTP proxy; unset = allocated from gateway.ports and kept."),
        Key("socks", .integer(1...65535), doc: "Entry port for the SOCKS5 proxy; unset = allocated from gateway.ports and kept."),
    ]

    static let passwordSource: ValueType = .oneOf([
        Key("file", .text(.filePath), doc: "File holding the password (mode 0600); relative to farm.yaml."),
        Key("hash", .text(.cryptHash), doc: "3proxy crypt hash: $1$... (openssl passwd -1) or $3$...; at most 63 characters."),
        Key("env", .text(.envName), doc: "Environment variable of the reconciler holding the password."),
        Key("value", .text(.secretText), doc: "The password itself (validate warns: prefer file or env)."),
    ], secret: true)

    static let tokenSource: ValueType = .oneOf([
        Key("file", .text(.filePath), doc: "File holding the token (mode 0600); relative to farm.yaml."),
        Key("env", .text(.envName), doc: "Environment variable of `reconcile serve` holding the token."),
        Key("value", .text(.secretText), doc: "The token itself, quoted (validate warns: prefer file or env)."),
    ], secret: true)

    static let pinSource: ValueType = .oneOf([
        Key("file", .text(.filePath), doc: "File holding the PIN (mode 0600); relative to farm.yaml."),
        Key("env", .text(.envName), doc: "Environment variable of the reconciler holding the PIN."),
        Key("value", .text(.secretText), doc: "The PIN itself, quoted (validate warns: prefer file or env)."),
    ], secret: true)
}

/// What a value in farm.yaml must look like.
indirect enum ValueType: Sendable {
    case text(TextFormat)
    case integer(ClosedRange<Int>)
    case boolean
    case list(of: ValueType, unique: Bool, nonEmpty: Bool)
    /// A mapping with these keys; unknown keys are errors. A modem's override merges into it key by key.
    case object([Key])
    /// A mapping with exactly one of these keys; a modem's override replaces it whole.
    /// `secret`: values below never appear in diagnostics.
    case oneOf([Key], secret: Bool)
    /// A mapping from names the operator chooses (user names) to values of one type.
    case dictionary(names: TextFormat, values: ValueType)
    /// A fixed word, or else a value of the given type (`rotation: never` or `rotation: {every: 10m}`).
    case wordOr(String, ValueType)

    /// "expected …" in diagnostics.
    var expectation: String {
        switch self {
        case .text(let format): format.expectation
        case .integer(let range) where range.lowerBound == range.upperBound: "the number \(range.lowerBound)"
        case .integer(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .boolean: "true or false"
        case .list(let element, _, _): "a list of \(element.expectationPlural)"
        case .object, .dictionary: "a mapping"
        case .oneOf(let keys, _): "a mapping with one of " + keys.map(\.name).joined(separator: ", ")
        case .wordOr(let word, let other): "\(word) or \(other.expectation)"
        }
    }

    private var expectationPlural: String {
        switch self {
        case .text(let format): format.plural
        default: "values: " + expectation
        }
    }
}

/// A key of a mapping in farm.yaml, with its documentation (shown in the JSON Schema).
struct Key: Sendable {
    var name: String
    var type: ValueType
    var required: Bool
    /// The value used when the key is absent, as the JSON Schema states it.
    var defaultValue: JSONValue?
    var doc: String

    init(_ name: String, _ type: ValueType, required: Bool = false, default defaultValue: JSONValue? = nil, doc: String) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.doc = doc
    }
}
