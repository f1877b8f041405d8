/// What the running HAProxy is, as far as the driver can tell.
public struct GatewayObserved: Sendable, Equatable {
    /// The master process answers on its CLI.
    public var running: Bool
    /// The files HAProxy last loaded with success (start or verified reload); nil = none yet.
    public var loaded: HAProxyFiles?
    /// Each backend's server state from the admin socket (`m01_http` → `UP`, `DOWN`, `MAINT`…).
    public var servers: [String: String]

    public init(running: Bool, loaded: HAProxyFiles?, servers: [String: String] = [:]) {
        self.running = running
        self.loaded = loaded
        self.servers = servers
    }
}

/// What apply does to HAProxy: the plan is exactly this.
public enum GatewayAction: Sendable, Equatable, CustomStringConvertible {
    /// Check the files with `haproxy -c`, then start the master-worker process.
    case start
    /// Check the files, then reload the master: established connections stay on the old worker.
    case reload(changedPorts: [Int])

    public var description: String {
        switch self {
        case .start: "start HAProxy"
        case .reload(let ports) where ports.isEmpty: "reload HAProxy (settings changed)"
        case .reload(let ports): "reload HAProxy (entry ports changed: \(ports.map(String.init).joined(separator: ", ")))"
        }
    }

    /// The one action that makes `observed` match `desired`, if any.
    public static func plan(desired: HAProxyFiles, observed: GatewayObserved) -> GatewayAction? {
        guard observed.running else { return .start }
        guard let loaded = observed.loaded, loaded == desired else {
            return .reload(changedPorts: Self.changedPorts(from: observed.loaded?.config ?? "", to: desired.config))
        }
        return nil
    }

    /// Entry ports whose frontend or backend text differs, for the operator's eye.
    private static func changedPorts(from old: String, to new: String) -> [Int] {
        let before = HAProxyFiles.sections(of: old), after = HAProxyFiles.sections(of: new)
        return Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    }
}

/// Why the gateway could not be changed; the running HAProxy keeps serving what it had.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    /// `ConfigInvalid` (haproxy -c refused it), `StartFailed`, `ReloadFailed`, `GatewayIOError`.
    public var reason: String
    public var message: String
    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }
    public var description: String { "\(reason): \(message)" }
}

/// The HAProxy seam: all I/O of the gateway goes through it.
public protocol GatewayDriver: Sendable {
    func observe() async throws(GatewayError) -> GatewayObserved
    /// Writes the files, checks them with `haproxy -c`, and starts or reloads; verifies the
    /// result (a reload counts only when the master reports no failure).
    func apply(_ action: GatewayAction, files: HAProxyFiles) async throws(GatewayError)
}

extension HAProxyFiles {
    /// Each entry port's frontend and backend text, by port.
    static func sections(of config: String) -> [Int: String] {
        var sections: [Int: String] = [:]
        var port: Int?
        for line in config.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("frontend entry_") { port = Int(line.dropFirst("frontend entry_".count)) }
            else if line.hasPrefix("frontend ") || line.hasPrefix("defaults") || line.hasPrefix("global") { port = nil }
            if let port { sections[port, default: ""] += line + "\n" }
        }
        return sections
    }
}
