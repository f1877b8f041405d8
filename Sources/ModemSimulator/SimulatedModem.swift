import Glibc
import Synchronization

/// A QMI modem that speaks QMUX on a pseudo-terminal, for tests and the lab.
///
/// Create it with a `Configuration`, then `start(linkingAt:)` (own pty, symlinked where the
/// client expects a cdc-wdm node) or `serve(fd:)` (a descriptor someone else owns, e.g. the pty
/// umockdev puts behind `/dev/cdc-wdm0`). Requests are answered on a background thread until
/// `stop()`. State can be read with `snapshot()` and faults switched with `inject(_:)` at any time.
public final class SimulatedModem: Sendable {
    public let configuration: Configuration
    private let core: Mutex<Core>

    private struct Core: ~Copyable {
        var state: ModemState
        var session: ServingSession?
    }

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        core = Mutex(Core(state: ModemState(configuration: configuration), session: nil))
    }

    deinit { stop() }

    /// A raw pseudo-terminal pair, for callers that want to serve it themselves.
    public static func openPTY() throws(SimulatorError) -> PseudoTerminal {
        try PseudoTerminal.open()
    }

    /// Creates a pty, links it at `path` (if given) and serves it; returns the pty's own path.
    /// Starting again after `stop()` or `.gone` is a replug: the modem reboots (client ids and
    /// sessions are gone, a SIM PIN must be entered again) but keeps its pool position.
    @discardableResult
    public func start(linkingAt path: String? = nil) throws(SimulatorError) -> String {
        let terminal = try PseudoTerminal.open()
        if let path {
            do {
                try DeviceLink.create(at: path, to: terminal.slavePath)
            } catch {
                terminal.close()
                throw error
            }
        }
        do {
            try begin(ServingSession.Device(fd: terminal.master, ownedTerminal: terminal, linkPath: path))
        } catch {
            if let path { DeviceLink.remove(at: path, ifPointingTo: terminal.slavePath) }
            terminal.close()
            throw error
        }
        return terminal.slavePath
    }

    /// Serves a descriptor the caller owns (it is put in raw mode but never closed here).
    public func serve(fd: Int32) throws(SimulatorError) {
        var attributes = termios()
        if tcgetattr(fd, &attributes) == 0 {
            cfmakeraw(&attributes)
            _ = tcsetattr(fd, TCSANOW, &attributes)
        }
        try begin(ServingSession.Device(fd: fd, ownedTerminal: nil, linkPath: nil))
    }

    /// Stops serving, closes the pty it created and removes its link. Idempotent.
    public func stop() {
        let session = core.withLock { core in
            let session = core.session.take()
            return session
        }
        session?.end()
    }

    /// Switches a fault on (nil switches faults off). `.gone` is a `stop()` that says why.
    public func inject(_ fault: Fault?) {
        core.withLock { $0.state.fault = fault }
        if fault == .gone { stop() }
    }

    public var fault: Fault? { core.withLock { $0.state.fault } }

    public var isServing: Bool { core.withLock { $0.session != nil } }

    /// Changes what NAS Get Signal Info reports from now on.
    public func setSignal(_ signal: SignalValues) {
        core.withLock { $0.state.signal = signal }
    }

    public func snapshot() -> ModemSnapshot {
        core.withLock { $0.state.snapshot() }
    }

    private func begin(_ device: ServingSession.Device) throws(SimulatorError) {
        let alreadyServing = core.withLock { core in
            guard core.session == nil else { return true }
            if core.state.fault == .gone { core.state.fault = nil }
            core.state.reboot()
            return false
        }
        if alreadyServing { throw SimulatorError(operation: "start: already serving", path: nil, code: EBUSY) }
        let session = try ServingSession.launch(device) { [weak self] request in
            self?.answer(request)
        }
        core.withLock { $0.session = session }
    }

    /// Applies the current fault, then lets the state answer. Nil means: say nothing.
    private func answer(_ request: QMIMessage) -> [UInt8]? {
        core.withLock { core in
            switch core.state.fault {
            case .gone:
                return nil
            case .noAnswer(let includingControl) where includingControl || request.service != QMIService.ctl.rawValue:
                core.state.requests.append(ReceivedRequest(service: request.service, clientID: request.clientID,
                                                           messageID: request.messageID))
                return nil
            case .errorReplies(let code) where request.service != QMIService.ctl.rawValue:
                core.state.requests.append(ReceivedRequest(service: request.service, clientID: request.clientID,
                                                           messageID: request.messageID))
                return QMUX.encode(core.state.response(to: request, .failure(code)))
            default:
                return QMUX.encode(core.state.respond(to: request))
            }
        }
    }
}
