import Spec

/// Everything one modem's 3proxy config is rendered from: resolved secrets included, so a value of
/// this type must never be printed or logged (its `description` hides them).
public struct ProxyConfigInput: Sendable, Equatable, CustomStringConvertible {
    public enum Credential: Sendable, Equatable {
        /// Rendered as `CL` (from a `value`, `file` or `env` password).
        case clear(String)
        /// Rendered as `CR` (a crypt hash from farm.yaml).
        case hash(String)
    }
    public struct ProxyUser: Sendable, Equatable {
        public var name: String
        public var credential: Credential
        /// Where 3proxy keeps the user's counts in the modem's counter file.
        public var counters: CounterSlot
        public var quota: Quota?
        public init(name: String, credential: Credential, counters: CounterSlot, quota: Quota? = nil) {
            self.name = name
            self.credential = credential
            self.counters = counters
            self.quota = quota
        }
    }

    /// The counter file's name in `logDirectory`: the directory is the proxy's own (its uid), so
    /// 3proxy can reopen the file after a reload, when it no longer runs as root.
    public static let counterFileName = "3proxy.counters"

    public var modem: String
    /// The unprivileged uid/gid the proxy drops to (its routing follows the uid rule).
    public var uid: UInt32
    public var listen: String
    public var httpPort: Int?
    public var socksPort: Int?
    /// Sorted by name.
    public var users: [ProxyUser]
    public var allow: [CIDR]
    public var maxConnections: Int
    public var bandwidth: Bandwidth
    public var dns: [String]
    /// Directory for the proxy's dated log files.
    public var logDirectory: String

    public init(modem: String, uid: UInt32, listen: String, httpPort: Int?, socksPort: Int?, users: [ProxyUser],
                allow: [CIDR], maxConnections: Int, bandwidth: Bandwidth, dns: [String], logDirectory: String) {
        self.modem = modem
        self.uid = uid
        self.listen = listen
        self.httpPort = httpPort
        self.socksPort = socksPort
        self.users = users
        self.allow = allow
        self.maxConnections = maxConnections
        self.bandwidth = bandwidth
        self.dns = dns
        self.logDirectory = logDirectory
    }

    public var counterFile: String { logDirectory + "/" + Self.counterFileName }

    /// Ports that must listen once the proxy runs.
    public var ports: [Int] { [httpPort, socksPort].compactMap { $0 } }

    public var description: String {
        "proxy config for \(modem) (uid \(uid), ports \(ports.map(String.init).joined(separator: ",")), users \(users.map(\.name).joined(separator: ",")))"
    }
}
