/// What a simulated modem is: identity, SIM, network and the address pool it hands out.
extension SimulatedModem {
    /// Printing a configuration never shows the PIN or the APN password.
    public struct Configuration: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
        public var imei: String
        /// The SIM PIN; nil means the SIM has PIN checking disabled and is ready at power-on.
        public var pin: String?
        /// Wrong PIN attempts left before the SIM locks to PUK.
        public var pinRetries: UInt8
        /// The SIM starts PUK-locked (too many wrong PINs in an earlier life).
        public var pukLocked: Bool
        /// Hand back the same address after low-power → online (carrier NAT that pins a subscriber).
        public var stickyIP: Bool
        public var addressPool: AddressPool
        public var dns: [IPv4Address]
        public var mtu: UInt32
        /// When set, Start Network with another APN fails like a carrier rejecting an unknown APN.
        public var requiredAPN: String?
        /// When set, Start Network must carry these credentials or fails with an authentication error.
        public var requiredCredentials: Credentials?
        public var operatorName: String
        public var mcc: UInt16
        public var mnc: UInt16
        public var radioTechnology: RadioTechnology
        public var signal: SignalValues
        public var manufacturer: String
        public var model: String
        public var revision: String
        /// Client ids a service hands out before answering ClientIdsExhausted, like real firmware.
        public var maxClientsPerService: Int
        /// False models older firmware without the UIM service: the SIM is only reachable through
        /// the DMS UIM requests.
        public var hasUIMService: Bool

        public init(
            imei: String = "359072060000001",
            pin: String? = nil,
            pinRetries: UInt8 = 3,
            pukLocked: Bool = false,
            stickyIP: Bool = false,
            addressPool: AddressPool = AddressPool(network: IPv4Address(100, 64, 1, 0), prefixLength: 24),
            dns: [IPv4Address] = [IPv4Address(198, 51, 100, 53), IPv4Address(198, 51, 100, 54)],
            mtu: UInt32 = 1500,
            requiredAPN: String? = nil,
            requiredCredentials: Credentials? = nil,
            operatorName: String = "ProxyFarm Sim",
            mcc: UInt16 = 1,
            mnc: UInt16 = 1,
            radioTechnology: RadioTechnology = .lte,
            signal: SignalValues = SignalValues(),
            manufacturer: String = "ProxyFarm",
            model: String = "Simulated QMI modem",
            revision: String = "SIM_1.0",
            maxClientsPerService: Int = 16,
            hasUIMService: Bool = true
        ) {
            self.imei = imei
            self.pin = pin
            self.pinRetries = pinRetries
            self.pukLocked = pukLocked
            self.stickyIP = stickyIP
            self.addressPool = addressPool
            self.dns = dns
            self.mtu = mtu
            self.requiredAPN = requiredAPN
            self.requiredCredentials = requiredCredentials
            self.operatorName = operatorName
            self.mcc = mcc
            self.mnc = mnc
            self.radioTechnology = radioTechnology
            self.signal = signal
            self.manufacturer = manufacturer
            self.model = model
            self.revision = revision
            self.maxClientsPerService = maxClientsPerService
            self.hasUIMService = hasUIMService
        }

        public var description: String {
            let sim = pukLocked ? "PUK-locked SIM" : pin == nil ? "SIM without PIN" : "SIM with PIN"
            return "modem \(imei), \(sim), pool \(addressPool)\(stickyIP ? " (sticky)" : ""), \(radioTechnology)"
        }

        public var debugDescription: String { description }
    }

    /// What goes wrong on purpose, switchable while the modem serves.
    public enum Fault: Sendable, Equatable {
        /// Requests are read and dropped: a hung modem. With `includingControl` false, CTL still
        /// answers (client ids can be allocated) and only the services stay silent.
        case noAnswer(includingControl: Bool)
        /// Every service request (not CTL) fails with this QMI protocol error code.
        case errorReplies(QMIErrorCode)
        /// The pseudo-terminal is closed and its link removed: the modem vanished from the bus.
        /// A descriptor passed to `serve(fd:)` belongs to the caller: it is only left unanswered.
        case gone
    }

    /// APN user name and password; the password never appears in descriptions.
    public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        public var description: String { "\(username):<redacted>" }
        public var debugDescription: String { description }
    }

    public enum RadioTechnology: String, Sendable, Equatable, CaseIterable {
        case gsm, umts, lte

        /// QmiNasRadioInterface value.
        var radioInterface: UInt8 {
            switch self {
            case .gsm: 4
            case .umts: 5
            case .lte: 8
            }
        }
    }

    /// Signal as the modem reports it; RSRQ/RSRP/SNR only apply to LTE, Ec/Io to UMTS.
    public struct SignalValues: Sendable, Equatable {
        public var rssi: Int8
        public var rsrq: Int8
        public var rsrp: Int16
        /// dB, reported in steps of 0.1 dB.
        public var snr: Double
        /// dB, reported in steps of 0.5 dB.
        public var ecio: Double

        public init(rssi: Int8 = -65, rsrq: Int8 = -9, rsrp: Int16 = -95, snr: Double = 13.0, ecio: Double = -6.0) {
            self.rssi = rssi
            self.rsrq = rsrq
            self.rsrp = rsrp
            self.snr = snr
            self.ecio = ecio
        }
    }
}

/// A QMI protocol error code (QmiProtocolError): the ones the simulator sends, plus a few that
/// real firmware answers when unwell, for `.errorReplies`.
public struct QMIErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let malformedMessage = QMIErrorCode(rawValue: 1)
    public static let `internal` = QMIErrorCode(rawValue: 3)
    public static let clientIdsExhausted = QMIErrorCode(rawValue: 5)
    public static let invalidClientID = QMIErrorCode(rawValue: 7)
    public static let invalidHandle = QMIErrorCode(rawValue: 9)
    public static let invalidPinID = QMIErrorCode(rawValue: 11)
    public static let incorrectPin = QMIErrorCode(rawValue: 12)
    public static let noNetworkFound = QMIErrorCode(rawValue: 13)
    public static let callFailed = QMIErrorCode(rawValue: 14)
    public static let outOfCall = QMIErrorCode(rawValue: 15)
    public static let missingArgument = QMIErrorCode(rawValue: 17)
    public static let argumentTooLong = QMIErrorCode(rawValue: 19)
    public static let noEffect = QMIErrorCode(rawValue: 26)
    public static let invalidServiceType = QMIErrorCode(rawValue: 31)
    public static let pinBlocked = QMIErrorCode(rawValue: 35)
    public static let deviceNotReady = QMIErrorCode(rawValue: 52)
    public static let invalidArgument = QMIErrorCode(rawValue: 48)
    public static let invalidIPFamilyPreference = QMIErrorCode(rawValue: 64)
    public static let invalidQmiCommand = QMIErrorCode(rawValue: 71)
    public static let notSupported = QMIErrorCode(rawValue: 94)

    public var description: String { "QMI error \(rawValue)" }
}
