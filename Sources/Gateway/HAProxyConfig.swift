import Spec

/// The files HAProxy runs the gateway from, rendered deterministically from `GatewayDesired`
/// (docs/haproxy.md "style A"): one frontend per entry port, so that a modem that is not Ready
/// refuses its own ports and nobody else's, and each port has its own metrics.
public struct HAProxyFiles: Sendable, Equatable {
    /// haproxy.cfg.
    public var config: String
    /// The customer networks, one per line, shared by every frontend (`src -f`).
    public var allowList: String

    public init(config: String, allowList: String) {
        self.config = config
        self.allowList = allowList
    }

    /// Where the rendered files and the admin socket live: HAProxy reads them by absolute path.
    public struct Paths: Sendable, Equatable {
        public var allowList: String
        public var adminSocket: String
        public init(allowList: String, adminSocket: String) {
            self.allowList = allowList
            self.adminSocket = adminSocket
        }
    }

    /// Idle time after which HAProxy closes a customer's connection; long, for long downloads.
    static let idleTimeout = "1h"
    /// A modem's host must accept within this; `retries 0`: a refused connection is not retried
    /// for seconds while the customer waits (the health check takes the modem out instead).
    static let connectTimeout = "5s"

    public static func render(_ desired: GatewayDesired, paths: Paths) -> HAProxyFiles {
        let settings = desired.settings
        let interval = "\(settings.checkInterval.components.seconds * 1000 + settings.checkInterval.components.attoseconds / 1_000_000_000_000_000)ms"
        var lines = [
            "# Written by `reconcile gateway` from farm.yaml; changes here are overwritten.",
            "global",
            "    stats socket \(paths.adminSocket) mode 600 level admin expose-fd listeners",
            "    log stderr format short daemon notice",
            "",
            "defaults",
            "    mode tcp",
            "    log global",
            "    retries 0",
            "    timeout connect \(connectTimeout)",
            "    timeout client \(idleTimeout)",
            "    timeout server \(idleTimeout)",
            "    timeout check \(interval)",
        ]
        if let metrics = settings.metrics {
            lines += [
                "",
                "frontend metrics",
                "    mode http",
                "    bind \(metrics)",
                "    http-request use-service prometheus-exporter if { path /metrics }",
            ]
        }
        for route in desired.routes {
            let backend = "\(route.modem)_\(route.service.rawValue)"
            lines += [
                "",
                "frontend entry_\(route.entryPort)",
                "    bind \(ListenAddress(host: settings.listen, port: route.entryPort))",
                "    tcp-request connection reject if !{ src -f \(paths.allowList) }",
                "    tcp-request connection reject if { nbsrv(\(backend)) eq 0 }",
                "    default_backend \(backend)",
                "",
                "backend \(backend)",
                "    option httpchk",
                "    http-check send meth GET uri /healthz/\(route.modem)",
                "    http-check expect status 200",
                "    server \(route.host) \(ListenAddress(host: route.hostAddress, port: route.proxyPort)) check port \(route.healthPort) inter \(interval) fall 2 rise 2",
            ]
        }
        return HAProxyFiles(config: lines.joined(separator: "\n") + "\n",
                            allowList: settings.allow.map(\.description).joined(separator: "\n") + "\n")
    }
}
