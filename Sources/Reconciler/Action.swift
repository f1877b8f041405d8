import Spec

/// One step the reconciler can take. Payloads that hold secrets (a PIN, a rendered config) are never
/// part of `summary`.
public enum ActionKind: Sendable, Equatable {
    case unlockSIM(pin: Secret)
    case setRawIP
    case setOnline
    case connect(apn: String, ipType: IPType, reusing: UInt8?)
    case disconnect(DataSession)
    /// New public IP: radio low-power, then online; the next round reconnects and re-routes.
    case rotate
    /// Disconnect, radio low-power, then online; the next round reconnects.
    case reset
    /// One rung of the recovery of a modem that does not answer.
    case recover(RecoveryRung)
    case network(NetworkChange)
    /// `config` holds secrets: never print it.
    case writeProxyConfig(config: String, uid: UInt32)
    case startProxy(ports: [Int])
    case reloadProxy(pid: Int32, ports: [Int])
    case stopProxy(pid: Int32)
    /// Drop the memory of a modem that left farm.yaml.
    case forget(serial: String)

    /// How the dry run marks it: `+` add, `~` change, `-` remove, `!` restart/rotate/reset.
    public var symbol: Character {
        switch self {
        case .unlockSIM, .connect, .startProxy, .setOnline, .setRawIP: "+"
        case .network(let change):
            switch change {
            case .removeRoute, .removeRule: "-"
            case .setAddress, .setGuardLane, .setGuardFence: "~"
            case .addRoute, .addRule, .linkUp: "+"
            case .removeGuardLane: "-"
            }
        case .writeProxyConfig, .reloadProxy: "~"
        case .disconnect, .stopProxy, .forget: "-"
        case .rotate, .reset, .recover: "!"
        }
    }

    /// Machine name for JSON and the audit log.
    public var name: String {
        switch self {
        case .unlockSIM: "unlock-sim"
        case .setRawIP: "set-raw-ip"
        case .setOnline: "set-online"
        case .connect: "connect"
        case .disconnect: "disconnect"
        case .rotate: "rotate"
        case .reset: "reset"
        case .recover(let rung): "recover-\(rung.rawValue)"
        case .network(let change):
            switch change {
            case .setAddress: "set-address"
            case .linkUp: "link-up"
            case .addRoute: "add-route"
            case .removeRoute: "remove-route"
            case .addRule: "add-rule"
            case .removeRule: "remove-rule"
            case .setGuardLane: "set-guard-lane"
            case .removeGuardLane: "remove-guard-lane"
            case .setGuardFence: "set-guard-fence"
            }
        case .writeProxyConfig: "write-proxy-config"
        case .startProxy: "start-proxy"
        case .reloadProxy: "reload-proxy"
        case .stopProxy: "stop-proxy"
        case .forget: "forget"
        }
    }

    /// What is done, without the reason: `connect (apn internet.op)`. Never holds a secret.
    public var summary: String {
        switch self {
        case .unlockSIM: "unlock SIM"
        case .setRawIP: "set raw-IP data format"
        case .setOnline: "set radio online"
        case .connect(let apn, let ipType, _): "connect (apn \(apn), \(ipType.rawValue))"
        case .disconnect(let session): "disconnect (client \(session.clientID))"
        case .rotate: "rotate"
        case .reset: "reset"
        case .recover(let rung): "recover: \(rung.summary)"
        case .network(let change):
            switch change {
            case .setAddress, .linkUp, .setGuardLane, .setGuardFence: change.description
            case .addRoute, .addRule: "add \(change.description)"
            case .removeRoute, .removeRule, .removeGuardLane: "remove \(change.description)"
            }
        case .writeProxyConfig: "write proxy config"
        case .startProxy(let ports): "start proxy (ports \(ports.map(String.init).joined(separator: ", ")))"
        case .reloadProxy(let pid, _): "reload proxy (pid \(pid))"
        case .stopProxy(let pid): "stop proxy (pid \(pid))"
        case .forget(let serial): "forget memory of \(serial)"
        }
    }

    /// The lane step it belongs to (DESIGN §6 order).
    public var step: Step {
        switch self {
        case .unlockSIM: .sim
        case .setRawIP: .dataFormat
        case .setOnline, .connect, .disconnect, .rotate, .reset, .recover: .connection
        case .network: .network
        case .writeProxyConfig, .startProxy, .reloadProxy, .stopProxy: .proxy
        case .forget: .memory
        }
    }

    public enum Step: Int, Sendable, Comparable {
        case sim, dataFormat, connection, network, proxy, memory
        public static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
    }
}

/// An action with the modem it belongs to (nil for leftovers no modem owns) and why.
public struct PlannedAction: Sendable, Equatable, CustomStringConvertible {
    public var modem: String?
    public var kind: ActionKind
    public var reason: String
    public init(modem: String?, kind: ActionKind, reason: String) {
        self.modem = modem
        self.kind = kind
        self.reason = reason
    }

    /// `m03: connect (apn internet.op, ipv4) — not connected`
    public var description: String {
        (modem.map { "\($0): " } ?? "") + kind.summary + " — " + reason
    }
}

/// Everything one plan would do, in lane order per modem.
public struct Plan: Sendable, Equatable {
    public var actions: [PlannedAction]
    /// Modems the planner left alone this time and why (backing off after failures).
    public var deferred: [String: String]
    /// Enabled modems that no action can bring to Ready now, and why: not plugged in, cannot be
    /// read, a configuration problem. Their lanes are still protected; nothing else is done.
    public var blocked: [String: String]
    /// Where each lane's kernel state differs from what it needs, as the plan was made: the
    /// evidence of the Routed condition (one comparison serves the plan and the status).
    public var routingProblems: [String: [String]] = [:]
    public init(actions: [PlannedAction] = [], deferred: [String: String] = [:], blocked: [String: String] = [:]) {
        self.actions = actions
        self.deferred = deferred
        self.blocked = blocked
    }

    public var isEmpty: Bool { actions.isEmpty }

    /// Actions grouped by lane (modem name; nil = unowned leftovers), each lane in step order.
    public var lanes: [(modem: String?, actions: [PlannedAction])] {
        var order: [String?] = []
        var byModem: [String?: [PlannedAction]] = [:]
        for action in actions {
            if byModem[action.modem] == nil { order.append(action.modem) }
            byModem[action.modem, default: []].append(action)
        }
        return order.map { ($0, byModem[$0] ?? []) }
    }
}
