import Glibc
import Synchronization

/// A QMI modem that speaks QMUX on a pseudo-terminal, for tests and the lab.
///
/// Create it with a `Configuration`, then `start(linkingAt:)` (own pty, symlinked where the
/// client expects a cdc-wdm node) or `serve(fd:)` (a descriptor someone else owns, e.g. the pty
/// the lab puts behind `/dev/cdc-wdm0`). Requests are answered on a background thread until
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
        do {
            try begin(ServingSession.Device(fd: terminal.master, ownedTerminal: terminal, linkPath: path))
        } catch {
            terminal.close()
            throw error
        }
        // Linked only once serving, so a refused start never touches another modem's link.
        if let path {
            do {
                try DeviceLink.create(at: path, to: terminal.slavePath)
            } catch {
                stop()
                throw error
            }
        }
        return terminal.slavePath
    }

    /// Serves a descriptor the caller owns. It is put in raw, non-blocking mode (a client that
    /// stops reading must not wedge the serving thread) but never closed here.
    public func serve(fd: Int32) throws(SimulatorError) {
        var attributes = termios()
        if tcgetattr(fd, &attributes) == 0 {
            cfmakeraw(&attributes)
            _ = tcsetattr(fd, TCSANOW, &attributes)
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw .current("configure descriptor") }
        try begin(ServingSession.Device(fd: fd, ownedTerminal: nil, linkPath: nil))
    }

    /// Stops serving, closes the pty it created and removes its link. Idempotent.
    public func stop() {
        let session = core.withLock { $0.session.take() }
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

    /// Takes the carrier's network away (the modem keeps searching and every session drops) or
    /// gives it back; registration follows on the next request.
    public func setCoverage(_ available: Bool) {
        core.withLock { core in
            core.state.hasCoverage = available
            if !available { core.state.detach() }
        }
    }

    public func snapshot() -> ModemSnapshot {
        core.withLock { $0.state.snapshot() }
    }

    /// Launches under the lock so two concurrent starts cannot both serve; the new thread only
    /// takes the lock once a request arrives.
    private func begin(_ device: ServingSession.Device) throws(SimulatorError) {
        try core.withLock { (core: inout Core) throws(SimulatorError) in
            guard core.session == nil else {
                throw SimulatorError(operation: "start: already serving", path: nil, code: EBUSY)
            }
            if core.state.fault == .gone { core.state.fault = nil }
            core.state.reboot()
            core.session = try ServingSession.launch(device) { [weak self] request in
                self?.answer(request)
            }
        }
    }

    /// Applies the current fault, then lets the state answer. Nil means: say nothing.
    private func answer(_ request: QMIMessage) -> [UInt8]? {
        core.withLock { core in
            switch core.state.fault {
            case .gone:
                return nil
            case .noAnswer(let includingControl) where includingControl || request.service != QMIService.ctl.rawValue:
                core.state.record(request)
                return nil
            case .errorReplies(let code) where request.service != QMIService.ctl.rawValue:
                core.state.record(request)
                return QMUX.encode(core.state.response(to: request, .failure(code)))
            default:
                return QMUX.encode(core.state.respond(to: request))
            }
        }
    }
}
