import CQMI
import Foundation
import Synchronization

/// How a control device is opened.
public struct QMIOpenOptions: Sendable, Equatable {
    /// Share the port through `qmi-proxy` (when ModemManager or qmicli may use it too).
    public var viaProxy: Bool
    /// Timeout of every request on this device.
    public var timeout: Duration
    /// Timeout of every request on a modem whose last request went unanswered, until one is
    /// answered: a hung modem holds up its host's passes (and so every other modem's news) this
    /// long per look, not `timeout`. A modem this slow to answer is not fit to serve anyway.
    public var unansweredTimeout: Duration
    /// Where the client ids of live processes are listed (see `QMIClientLedger`), so that the
    /// ids of a killed one are freed by the next; nil keeps no list.
    public var ledgerDirectory: String?

    public init(viaProxy: Bool = false, timeout: Duration = .seconds(10), unansweredTimeout: Duration = .seconds(3),
                ledgerDirectory: String? = nil) {
        self.viaProxy = viaProxy
        self.timeout = timeout
        self.unansweredTimeout = min(unansweredTimeout, timeout)
        self.ledgerDirectory = ledgerDirectory
    }
}

extension QMIOpenOptions {
    /// How every ProxyFarm process opens modems (docs/qmi.md, "Sharing a modem"): through
    /// qmi-proxy, so that a daemon, dry runs, `discover` and other tools share each port, with the
    /// client-id ledger in `$PROXYFARM_RUNTIME_DIR/qmi-clients` (default /run/proxyfarm).
    public static func shared(timeout: Duration = .seconds(10),
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> QMIOpenOptions {
        let runtime = environment["PROXYFARM_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/proxyfarm"
        return QMIOpenOptions(viaProxy: true, timeout: timeout, ledgerDirectory: runtime + "/qmi-clients")
    }
}

/// An open libqmi `QmiDevice`. Its pointer is only touched on the GLib loop thread.
public final class QMIDevice: @unchecked Sendable {
    public let path: String
    let tracker = CallTracker()
    private let pointer: UnsafeMutablePointer<QmiDevice>
    private var removedHandler: gulong = 0
    private let currentTimeout: Mutex<Duration>

    private init(path: String, pointer: UnsafeMutablePointer<QmiDevice>, timeout: Duration) {
        self.path = path
        self.pointer = pointer
        currentTimeout = Mutex(timeout)
    }

    /// Timeout of the next request on this device.
    public var timeout: Duration {
        get { currentTimeout.withLock { $0 } }
        set { currentTimeout.withLock { $0 = newValue } }
    }

    deinit {
        let handle = DevicePointer(pointer: pointer, handler: removedHandler)
        // The signal handler's data is the tracker: it must outlive the disconnect on the loop.
        let tracker = tracker
        GLibLoop.shared.post {
            if handle.handler != 0 { g_signal_handler_disconnect(handle.pointer, handle.handler) }
            g_object_unref(handle.pointer)
            withExtendedLifetime(tracker) {}
        }
    }

    /// Whether the modem vanished (its control device hung up).
    public var isGone: Bool { tracker.isGone }

    /// Opens `path` with version info; `sync` releases every client id the modem still holds —
    /// so it must be off when a remembered client id is about to be reused.
    /// `timeout` bounds the open and the requests after it (default: the options').
    public static func open(_ path: String, options: QMIOpenOptions = QMIOpenOptions(), sync: Bool,
                            timeout: Duration? = nil) async throws -> QMIDevice {
        let timeout = timeout ?? options.timeout
        let created = try await qmiCall("open", device: path, tracker: nil, timeout: timeout, start: { begin in
            let file = g_file_new_for_path(path)
            qmi_device_new(file, begin.cancellable, begin.callback, begin.userData)
            g_object_unref(UnsafeMutableRawPointer(file))
        }, finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let device = qmi_device_new_finish(result, &error) else {
                throw QMIError.consuming(error, device: path, operation: "open")
            }
            return DevicePointer(pointer: device, handler: 0)
        })
        let device = QMIDevice(path: path, pointer: created.pointer, timeout: timeout)
        var flags = QMI_DEVICE_OPEN_FLAGS_VERSION_INFO.rawValue
        if sync { flags |= QMI_DEVICE_OPEN_FLAGS_SYNC.rawValue }
        if options.viaProxy { flags |= QMI_DEVICE_OPEN_FLAGS_PROXY.rawValue }
        let openFlags = QmiDeviceOpenFlags(flags)
        try await device.call("open") { begin in
            qmi_device_open(device.pointer, openFlags, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            try check(qmi_device_open_finish(device.pointer, result, &error), error, device: path, operation: "open")
        }
        try await GLibLoop.shared.run { device.watchRemoval() }
        return device
    }

    /// Fails every call in flight once libqmi reports that the port hung up.
    private func watchRemoval() {
        let context = Unmanaged.passUnretained(tracker).toOpaque()
        let handler: @convention(c) (gpointer?, gpointer?) -> Void = { _, data in
            guard let data else { return }
            Unmanaged<CallTracker>.fromOpaque(data).takeUnretainedValue().markGone("the control device hung up")
        }
        removedHandler = g_signal_connect_data(pointer, QMI_DEVICE_SIGNAL_REMOVED,
                                               unsafeBitCast(handler, to: GCallback.self), context, nil, GConnectFlags(0))
    }

    /// One request on this device, bounded by the device's timeout.
    func call<T: Sendable>(_ operation: String, start: @escaping @Sendable (QMIStart) -> Void,
                           finish: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await qmiCall(operation, device: path, tracker: tracker, timeout: timeout, start: start, finish: finish)
    }

    /// Allocates a client of `service`; with `reusing`, binds to that existing client id instead
    /// of asking the modem for a new one (libqmi does not contact the modem then).
    public func allocateClient(_ service: QMIService, reusing cid: UInt8? = nil) async throws -> QMIClient {
        let operation = "allocate \(service) client" + (cid.map { " \($0)" } ?? "")
        let client = try await call(operation) { begin in
            qmi_device_allocate_client(self.pointer, service.qmiService, cid ?? guint8(QMI_CID_NONE), begin.seconds,
                                       begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let client = qmi_device_allocate_client_finish(self.pointer, result, &error) else {
                throw QMIError.consuming(error, device: self.path, operation: operation)
            }
            return ClientPointer(pointer: client)
        }
        return QMIClient(device: self, service: service, pointer: client.pointer)
    }

    /// Releases `client` locally; `keepCID` leaves the client id (and its data session) alive in
    /// the modem so that a later process can reuse it.
    public func release(_ client: QMIClient, keepCID: Bool) async throws {
        let flags = keepCID ? QMI_DEVICE_RELEASE_CLIENT_FLAGS_NONE : QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID
        try await call("release \(client.service) client \(client.cid)") { begin in
            qmi_device_release_client(self.pointer, client.pointer, flags, begin.seconds, begin.cancellable,
                                      begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            try check(qmi_device_release_client_finish(self.pointer, result, &error), error,
                      device: self.path, operation: "release \(client.service) client \(client.cid)")
        }
    }

    /// Closes the port. Client ids not released before stay allocated in the modem.
    public func close() async throws {
        try await call("close") { begin in
            qmi_device_close_async(self.pointer, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            try check(qmi_device_close_finish(self.pointer, result, &error), error, device: self.path, operation: "close")
        }
    }
}

private struct DevicePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiDevice>
    let handler: gulong
}

private struct ClientPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClient>
}
