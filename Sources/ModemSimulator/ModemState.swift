/// The QMI services the simulator implements, with the ids libqmi uses.
public enum QMIService: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ctl = 0x00
    case wds = 0x01
    case dms = 0x02
    case nas = 0x03
    case uim = 0x0B
    case wda = 0x1A

    /// Version reported in CTL Get Version Info (values of a recent Qualcomm firmware).
    var version: (major: UInt16, minor: UInt16) {
        switch self {
        case .ctl: (1, 5)
        case .wds: (1, 67)
        case .dms: (1, 14)
        case .nas: (1, 25)
        case .uim: (1, 46)
        case .wda: (1, 16)
        }
    }

    public var description: String {
        switch self {
        case .ctl: "CTL"
        case .wds: "WDS"
        case .dms: "DMS"
        case .nas: "NAS"
        case .uim: "UIM"
        case .wda: "WDA"
        }
    }
}

/// DMS operating mode (QmiDmsOperatingMode values).
public enum OperatingMode: UInt8, Sendable, Equatable {
    case online = 0
    case lowPower = 1
    case offline = 3
    case reset = 4
    case persistentLowPower = 6
    case modeOnlyLowPower = 7
}

/// WDA link layer protocol (QmiWdaLinkLayerProtocol values).
public enum LinkLayerProtocol: UInt32, Sendable, Equatable {
    case ethernet = 1
    case rawIP = 2
}

public enum SIMStatus: Sendable, Equatable {
    case ready
    case pinRequired(retriesLeft: UInt8)
    case pukLocked
}

/// One data session: bound to the WDS client id that started it.
public struct DataSession: Sendable, Equatable {
    public var clientID: UInt8
    public var packetDataHandle: UInt32
    public var apn: String
    /// The APN user name the client sent, if any (the password is never kept).
    public var username: String?
    /// The authentication the client asked for, as QmiWdsAuthentication bits (1 PAP, 2 CHAP).
    public var authentication: UInt8?
    public var address: IPv4Address
}

/// One request the modem received (never its TLVs: they may carry PINs and passwords).
public struct ReceivedRequest: Sendable, Equatable {
    public var service: UInt8
    public var clientID: UInt8
    public var messageID: UInt16
}

/// A consistent picture of the modem for test assertions.
public struct ModemSnapshot: Sendable, Equatable {
    public var sim: SIMStatus
    public var operatingMode: OperatingMode
    public var isRegistered: Bool
    public var hasCoverage: Bool
    public var linkLayer: LinkLayerProtocol
    /// Allocated client ids per service.
    public var clients: [QMIService: [UInt8]]
    public var sessions: [DataSession]
    /// The address of the current attach (what the next connect gets), nil after low-power.
    public var currentAddress: IPv4Address?
    /// The most recent requests (at least the last 1024), oldest first.
    public var requests: [ReceivedRequest]
}

/// The modem's mutable state; only touched under the modem's lock by the serving thread and
/// by the public runtime knobs.
struct ModemState {
    enum SIMLock: Equatable {
        /// PIN checking is off: ready at power-on.
        case disabled
        case locked
        case unlocked
        case puk
    }

    let configuration: SimulatedModem.Configuration
    var simLock: SIMLock
    var pinRetriesLeft: UInt8
    var pukRetriesLeft: UInt8 = 10
    var operatingMode: OperatingMode = .online
    var linkLayer: LinkLayerProtocol = .ethernet
    var clients: [QMIService: Set<UInt8>] = [:]
    var lastClientID: [QMIService: UInt8] = [:]
    var sessions: [UInt8: DataSession] = [:]
    var lastHandle: UInt32 = 0x2A00_0000
    var nextPoolIndex: UInt32 = 0
    var attachAddress: IPv4Address?
    var lastAddress: IPv4Address?
    var signal: SimulatedModem.SignalValues
    var hasCoverage = true
    var fault: SimulatedModem.Fault?
    var requests: [ReceivedRequest] = []

    init(configuration: SimulatedModem.Configuration) {
        self.configuration = configuration
        pinRetriesLeft = configuration.pinRetries
        signal = configuration.signal
        if configuration.pukLocked {
            simLock = .puk
            pinRetriesLeft = 0
        } else {
            simLock = configuration.pin == nil ? .disabled : .locked
        }
    }

    var isSIMReady: Bool { simLock == .disabled || simLock == .unlocked }
    /// Whether the modem would look for a network: online with a usable SIM.
    var isSearching: Bool { operatingMode == .online && isSIMReady }
    var isRegistered: Bool { isSearching && hasCoverage }

    var simStatus: SIMStatus {
        switch simLock {
        case .disabled, .unlocked: .ready
        case .locked: .pinRequired(retriesLeft: pinRetriesLeft)
        case .puk: .pukLocked
        }
    }

    /// A power cycle (replug or DMS reset): sessions and client ids are gone, the SIM asks for
    /// its PIN again; the pool position survives, as the carrier's does.
    mutating func reboot() {
        clients = [:]
        sessions = [:]
        attachAddress = nil
        operatingMode = .online
        if simLock == .unlocked { simLock = .locked }
    }

    /// Leaving the network (low-power and friends) tears down every session and the attach.
    mutating func detach() {
        sessions = [:]
        attachAddress = nil
    }

    /// The address for a new session: shared by all sessions of one attach, a fresh one from the
    /// pool for each new attach unless the configuration is sticky.
    mutating func addressForNewSession() -> IPv4Address {
        if let attachAddress { return attachAddress }
        let address: IPv4Address
        if configuration.stickyIP, let lastAddress {
            address = lastAddress
        } else {
            address = configuration.addressPool.subscriber(nextPoolIndex)
            nextPoolIndex &+= 1
        }
        attachAddress = address
        lastAddress = address
        return address
    }

    mutating func nextPacketDataHandle() -> UInt32 {
        lastHandle &+= 1
        return lastHandle
    }

    func snapshot() -> ModemSnapshot {
        ModemSnapshot(
            sim: simStatus,
            operatingMode: operatingMode,
            isRegistered: isRegistered,
            hasCoverage: hasCoverage,
            linkLayer: linkLayer,
            clients: clients.mapValues { $0.sorted() },
            sessions: sessions.values.sorted { $0.clientID < $1.clientID },
            currentAddress: attachAddress,
            requests: requests
        )
    }
}
