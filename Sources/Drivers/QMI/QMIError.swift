import CQMI
import Reconciler

/// A failed QMI operation, in the words an operator needs: which device, which request, and
/// libqmi's own message. Never carries a PIN (libqmi's messages do not echo request values).
public struct QMIError: OperatorFacingError, Equatable {
    public enum Kind: String, Sendable {
        /// No answer within the timeout (libqmi's or the Swift-side guard).
        case timeout = "Timeout"
        /// The caller's task was cancelled before the modem answered.
        case cancelled = "Cancelled"
        /// The modem answered with a QMI error, or libqmi refused the request.
        case qmiError = "QmiError"
        /// The SIM rejected the PIN; it is never retried automatically.
        case wrongPin = "WrongPin"
        /// The SIM wants its PUK: no PIN will unlock it any more.
        case pukRequired = "SimPukRequired"
        /// The control device vanished or could not be opened.
        case modemGone = "ModemGone"
        /// The modem's firmware lacks the service or request.
        case unsupported = "QmiUnsupported"
        /// The modem answered something the driver cannot use.
        case unexpectedReply = "UnexpectedReply"
        /// The kernel side of the data format (sysfs raw_ip) could not be read or set.
        case kernelDataFormat = "KernelDataFormat"
    }

    public var kind: Kind
    /// Control device path, e.g. `/dev/cdc-wdm0`.
    public var device: String
    /// The request, e.g. `WDS Start Network`.
    public var operation: String
    /// libqmi's (GError) message or the driver's explanation.
    public var detail: String
    /// The QMI protocol error code when the modem answered with one.
    public var protocolCode: Int?

    public init(_ kind: Kind, device: String, operation: String, detail: String, protocolCode: Int? = nil) {
        self.kind = kind
        self.device = device
        self.operation = operation
        self.detail = detail
        self.protocolCode = protocolCode
    }

    public var reason: String { kind.rawValue }
    public var message: String { "\(device): \(operation): \(detail)" }
}

extension QMIError {
    /// Classifies and frees a GError from libqmi.
    static func consuming(_ error: UnsafeMutablePointer<GError>?, device: String, operation: String) -> QMIError {
        guard let error else {
            return QMIError(.qmiError, device: device, operation: operation, detail: "failed without an error message")
        }
        defer { g_error_free(error) }
        let detail = error.pointee.message.map { String(cString: $0) } ?? "no message"
        let code = error.pointee.code
        if error.pointee.domain == qmi_core_error_quark() {
            if code == Int32(QMI_CORE_ERROR_TIMEOUT.rawValue) {
                return QMIError(.timeout, device: device, operation: operation, detail: detail)
            }
            if code == Int32(QMI_CORE_ERROR_UNSUPPORTED.rawValue) {
                return QMIError(.unsupported, device: device, operation: operation, detail: detail)
            }
            if code == Int32(QMI_CORE_ERROR_WRONG_STATE.rawValue) {
                return QMIError(.modemGone, device: device, operation: operation, detail: detail)
            }
        }
        if error.pointee.domain == qmi_protocol_error_quark() {
            let kind: Kind = switch UInt32(bitPattern: code) {
            case QMI_PROTOCOL_ERROR_INCORRECT_PIN.rawValue: .wrongPin
            case QMI_PROTOCOL_ERROR_PIN_BLOCKED.rawValue, QMI_PROTOCOL_ERROR_PIN_ALWAYS_BLOCKED.rawValue: .pukRequired
            default: .qmiError
            }
            return QMIError(kind, device: device, operation: operation, detail: detail, protocolCode: Int(code))
        }
        if error.pointee.domain == g_io_error_quark() {
            return QMIError(.modemGone, device: device, operation: operation, detail: detail)
        }
        return QMIError(.qmiError, device: device, operation: operation, detail: detail)
    }
}


extension QMIError {
    /// Whether the modem answered with this QMI protocol error.
    func hasProtocolCode(_ code: QmiProtocolError) -> Bool {
        kind != .timeout && protocolCode == Int(code.rawValue)
    }

    static func ipv6Unsupported(device: String) -> QMIError {
        QMIError(.unsupported, device: device, operation: "WDS Start Network", detail: "IPv6-only sessions are not supported yet")
    }

    /// The modem does not know the client id (it was released, or the modem rebooted).
    var isUnknownClient: Bool { hasProtocolCode(QMI_PROTOCOL_ERROR_INVALID_CLIENT_ID) }
}
