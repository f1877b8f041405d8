import Glibc
import Reconciler

/// What went wrong while supervising a modem's 3proxy, in the operator's words.
///
/// 3proxy's own stderr (`3proxy.err`) is quoted (its tail) because it exits 0 on config errors
/// and says why only there; its messages name a directive and a line number, never a value.
public enum ProxySupervisorError: OperatorFacingError, Equatable {
    /// The configured 3proxy binary is not on PATH (or not executable at the given path).
    case binaryMissing(binary: String)
    /// A modem name that cannot be used as a file name.
    case invalidModemName(String)
    /// `start` was asked before `writeConfig`.
    case configMissing(modem: String, path: String)
    /// Another process already listens on one of the modem's ports.
    case portInUse(modem: String, ports: [Int], pids: [Int32])
    /// The process exited, or its ports did not all listen in time, after a start.
    case notListening(modem: String, ports: [Int], exited: Bool, stderrTail: String)
    /// After SIGUSR1 the proxy exited, stopped being ours, or reported a config error.
    case reloadFailed(modem: String, why: String, stderrTail: String)
    /// The pid is not this modem's 3proxy (dead, reused, or somebody else's): it is never signalled.
    case notOurProcess(modem: String, pid: Int32)
    /// The process outlived SIGKILL.
    case stopTimedOut(modem: String, pid: Int32)
    /// A file-system call failed.
    case io(operation: String, path: String, errno: Int32)

    public var reason: String {
        switch self {
        case .binaryMissing: "ProxyBinaryMissing"
        case .invalidModemName: "InvalidModemName"
        case .configMissing: "ProxyConfigMissing"
        case .portInUse: "ProxyPortInUse"
        case .notListening: "ProxyNotListening"
        case .reloadFailed: "ProxyReloadFailed"
        case .notOurProcess: "ProxyPidMismatch"
        case .stopTimedOut: "ProxyStopTimedOut"
        case .io: "ProxyIOError"
        }
    }

    public var message: String {
        switch self {
        case .binaryMissing(let binary):
            "3proxy binary '\(binary)' not found: install 3proxy from its upstream release "
                + "(make -f Makefile.Linux; it is not a Debian package) or set the proxy binary path"
        case .invalidModemName(let name):
            "modem name \(name.debugDescription) cannot be used as a file name"
        case .configMissing(let modem, let path):
            "\(modem): no 3proxy config at \(path); it is written before the proxy starts"
        case .portInUse(let modem, let ports, let pids):
            "\(modem): port(s) \(ports.map(String.init).joined(separator: ",")) already held by pid(s) "
                + "\(pids.map(String.init).joined(separator: ",")); stop them first"
        case .notListening(let modem, let ports, let exited, let tail):
            "\(modem): 3proxy \(exited ? "exited" : "did not listen on all of \(ports.map(String.init).joined(separator: ","))")"
                + " after start" + Self.quoting(tail)
        case .reloadFailed(let modem, let why, let tail):
            "\(modem): reload (SIGUSR1) failed: \(why)" + Self.quoting(tail)
        case .notOurProcess(let modem, let pid):
            "\(modem): pid \(pid) is not this modem's 3proxy; it was not signalled"
        case .stopTimedOut(let modem, let pid):
            "\(modem): 3proxy pid \(pid) is still alive after SIGKILL"
        case .io(let operation, let path, let errno):
            "\(operation) \(path): \(String(cString: strerror(errno)))"
        }
    }

    private static func quoting(_ tail: String) -> String {
        tail.isEmpty ? " (nothing on its stderr)" : "; its stderr ends: \(tail)"
    }
}
