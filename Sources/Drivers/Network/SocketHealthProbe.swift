import Spec
import CGlibcExtras
import Foundation
import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// The health probe: an HTTP GET of the configured URL sent *as the modem's proxy uid*.
///
/// Why the uid and not SO_BINDTODEVICE: the proxy's traffic is routed by the `uidrange U-U` rule
/// (DESIGN §7), so only a socket owned by U proves that path; a socket bound to the interface
/// would be routed by the `oif` rule and pass even when the uid rule is missing. A socket is owned
/// by the fsuid of the thread that creates it, so the probe runs on a thread of its own that sets
/// its fsuid to U (setfsuid is per thread; the reconciler needs root or CAP_SETUID for it) —
/// no child process, no setuid of the reconciler. The same thread can first enter a network
/// namespace (setns is per thread too), which is how tests and the lab probe a namespace farm.
///
/// The result is ok for a 2xx answer; otherwise the reason says what happened (`timeout after
/// 5s (connecting)`, `connection refused`, `no route to host` for a dead modem, `HTTP 503`). The
/// whole exchange — lookup excepted, getaddrinfo cannot be bounded — ends by the timeout.
public struct SocketHealthProbe: HealthProbe {
    /// Network namespace (a name under /var/run/netns) to probe from; nil for the reconciler's own.
    public var namespace: String?
    /// Report a 2xx body that is a bare IPv4/IPv6 address as the modem's public IP (what-is-my-IP
    /// URLs answer that way; a 204 endpoint has no body and reports none).
    public var publicIPFromBody: Bool

    public init(namespace: String? = nil, publicIPFromBody: Bool = true) {
        self.namespace = namespace
        self.publicIPFromBody = publicIPFromBody
    }

    /// `interface` is not needed: the uid rule picks the modem's route (see above).
    public func probe(url: String, uid: UInt32, interface: String, timeout: Duration) async -> ProbeResult {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: probeOnThisThread(url: url, uid: uid, timeout: timeout))
            }
        }
    }

    /// Changes this thread's namespace and fsuid: call it only on a thread that ends afterwards.
    private func probeOnThisThread(url: String, uid: UInt32, timeout: Duration) -> ProbeResult {
        let started = ContinuousClock.now
        do throws(ProbeFailure) {
            let target = try ProbeURL(url)
            if let namespace, let problem = NetworkNamespace.enterOnThisThread(namespace) { throw ProbeFailure(problem) }
            try actAs(uid)
            let connection = ProbeConnection(deadline: started + timeout, timeoutText: Self.seconds(timeout))
            let address = try connection.resolve(target.host)
            let hostHeader = target.port == 80 ? target.host : "\(target.host):\(target.port)"
            let request = "GET \(target.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: proxyfarm-health\r\n"
                + "Accept: */*\r\nConnection: close\r\n\r\n"
            let answer = try HTTPProbeResponse(connection.exchange(address: address, port: target.port, request: Array(request.utf8)))
            let latency = ContinuousClock.now - started
            guard (200...299).contains(answer.status) else {
                return ProbeResult(ok: false, failure: "HTTP \(answer.status)", latency: latency)
            }
            return ProbeResult(ok: true, latency: latency, publicIP: publicIPFromBody ? Self.bareAddress(answer.body) : nil)
        } catch {
            return ProbeResult(ok: false, failure: error.reason, latency: ContinuousClock.now - started)
        }
    }

    /// setfsuid reports no error: asking twice shows whether the first call took effect.
    private func actAs(_ uid: UInt32) throws(ProbeFailure) {
        _ = proxyfarm_set_fsuid(uid)
        guard UInt32(bitPattern: proxyfarm_set_fsuid(uid)) == uid else {
            throw ProbeFailure("cannot probe as uid \(uid): the reconciler needs root (CAP_SETUID)")
        }
    }

    private static func bareAddress(_ body: String) -> String? {
        let text = body.trimmingWhitespace()
        var buffer = [UInt8](repeating: 0, count: 16)
        let isAddress = inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
        return isAddress ? text : nil
    }

    /// `5s`, `0.5s`: how a timeout reads in a failure reason.
    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(Double(milliseconds) / 1000)s"
    }
}
