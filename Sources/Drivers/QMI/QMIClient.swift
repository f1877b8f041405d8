import CQMI

/// The QMI services the driver talks to.
public enum QMIService: String, Sendable, CustomStringConvertible {
    case dms = "DMS", uim = "UIM", wda = "WDA", wds = "WDS", nas = "NAS"

    var qmiService: QmiService {
        switch self {
        case .dms: QMI_SERVICE_DMS
        case .uim: QMI_SERVICE_UIM
        case .wda: QMI_SERVICE_WDA
        case .wds: QMI_SERVICE_WDS
        case .nas: QMI_SERVICE_NAS
        }
    }

    public var description: String { rawValue }
}

/// A client id of one service on an open device. The requests live in per-service extensions.
public final class QMIClient: @unchecked Sendable {
    public let device: QMIDevice
    public let service: QMIService
    /// The client id the modem assigned (or the reused one).
    public let cid: UInt8
    let pointer: UnsafeMutablePointer<QmiClient>

    init(device: QMIDevice, service: QMIService, pointer: UnsafeMutablePointer<QmiClient>) {
        self.device = device
        self.service = service
        self.pointer = pointer
        cid = qmi_client_get_cid(pointer)
    }

    deinit {
        let handle = OwnedClient(pointer: pointer)
        GLibLoop.shared.post { g_object_unref(handle.pointer) }
    }

    /// The client as libqmi's service-specific type (the GObject cast macros are not importable).
    func typed<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: type)
    }

    /// One request of this client, bounded by the device's timeout.
    func request<T: Sendable>(_ operation: String, start: @escaping @Sendable (QMIStart) -> Void,
                              finish: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await device.call("\(service) \(operation)", start: start, finish: finish)
    }

    func fail(_ operation: String, _ error: UnsafeMutablePointer<GError>?) -> QMIError {
        QMIError.consuming(error, device: device.path, operation: "\(service) \(operation)")
    }
}

private struct OwnedClient: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClient>
}
