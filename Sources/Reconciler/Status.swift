import Foundation

/// Kubernetes-style condition (DESIGN §5). `since` changes only when `status` changes.
public struct Condition: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case present = "Present", responding = "Responding", simReady = "SimReady", registered = "Registered", connected = "Connected"
        case routed = "Routed", proxyServing = "ProxyServing", healthy = "Healthy"
    }
    public var type: Kind
    /// `True`, `False` or `Unknown`.
    public var status: String
    public var reason: String
    public var message: String
    public var since: Date

    public init(type: Kind, status: String, reason: String, message: String, since: Date) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.since = since
    }
}

public enum Phase: String, Sendable, Codable, CaseIterable {
    case ready = "Ready", connecting = "Connecting", degraded = "Degraded", missing = "Missing"
    case disabled = "Disabled", error = "Error"
}

/// status/modems/<name>.json — every field is documented in docs/status.md.
public struct ModemStatus: Sendable, Codable, Equatable {
    public struct Rotation: Sendable, Codable, Equatable {
        public var schedule: String
        public var count: Int
        public var last: Date?
        public var lastKeptSameAddress: Bool?
    }
    public struct Health: Sendable, Codable, Equatable {
        public var url: String
        public var lastProbe: Date?
        public var lastLatencySeconds: Double?
        public var lastFailure: String?
        public var consecutiveFailures: Int
        /// Failed probes ever (survives restarts).
        public var probeFailures: Int?
        public var resets: Int
        public var lastReset: Date?
    }

    public var name: String
    public var serial: String
    public var enabled: Bool
    public var phase: Phase
    /// Why the modem is not Ready (absent when it is): the reason and message of what holds it back.
    public var reason: String?
    public var message: String?
    /// Present, Responding, SimReady, Registered, Connected, Routed, ProxyServing, Healthy, in that order.
    public var conditions: [Condition]
    public var imei: String?
    public var usbPath: String?
    public var usbPort: String?
    public var controlDevice: String?
    public var interface: String?
    public var ip: String?
    /// The address the last successful health probe saw the modem egress from, when the probe URL
    /// reports one (behind carrier NAT it differs from `ip`).
    public var publicIP: String?
    public var prefixLength: Int?
    public var gateway: String?
    public var dns: [String]
    public var signal: SignalInfo?
    public var operatorName: String?
    public var radioTechnology: String?
    public var httpPort: Int?
    public var socksPort: Int?
    public var uid: UInt32
    public var table: Int
    public var proxyPid: Int32?
    /// Packets the egress guard refused to let the proxy's uid send elsewhere than through its
    /// modem, since the guard's table was last written.
    public var guardRefusedPackets: Int?
    /// Bytes the modem's interface received and transmitted since ProxyFarm first saw it, summed
    /// across rotations, replugs and restarts (ModemMemory.traffic).
    public var traffic: ByteCounts?
    /// Each proxy user's traffic and quota on this modem, as its 3proxy counted it; absent until
    /// the proxy wrote its counter file.
    public var users: [UserTraffic]?
    public var rotation: Rotation
    public var health: Health
    /// Why the modem is waiting (backing off after failures, pause between resets).
    public var waiting: String?
    /// Configuration problems (unreadable secret, no free port): fix farm.yaml or the secret.
    public var problems: [String]
    public var specRevision: String

    public func condition(_ kind: Condition.Kind) -> Condition? { conditions.first { $0.type == kind } }

    /// The `since` of the condition of `kind` when its status is still `status`, else nil.
    func since(_ kind: Condition.Kind, ifStill status: String) -> Date? {
        guard let index = conditions.firstIndex(where: { $0.type == kind }), conditions[index].status == status else { return nil }
        return conditions[index].since
    }
}

/// status/farm.json — documented in docs/status.md.
public struct FarmStatus: Sendable, Codable, Equatable {
    public var specRevision: String
    public var lastPass: Date
    public var lastPassSeconds: Double
    /// Every enabled modem is Ready and the pass left nothing to do (no pending or failed action,
    /// no modem waiting).
    public var converged: Bool
    public var modems: Int
    /// Count of modems in each phase (every phase listed, zeros included).
    public var phases: [String: Int]
    /// Plugged modems that no spec modem claims, by USB port path (left alone).
    public var unclaimedModems: [String]
    /// Actions of the pass that failed.
    public var failedActions: Int
    /// When the last pass in which no action failed ended (absent until there was one).
    public var lastSuccessfulPass: Date?
    /// farm.yaml's errors (`farm.yaml:LINE:COL: error: …`) while the daemon keeps the last valid
    /// spec (`specRevision`) in force; absent when farm.yaml is valid.
    public var specErrors: [String]?
}
