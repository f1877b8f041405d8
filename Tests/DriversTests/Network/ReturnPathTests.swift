import Drivers
import Foundation
import Reconciler
import Testing

/// A proxy's replies to its clients leave by the host's uplink, not by its modem (docs/routing.md).
///
/// 3proxy re-binds its listeners as its own uid on every SIGUSR1 reload, so from then on the
/// kernel routes the replies to its clients by `uidrange U-U lookup T`: out of the modem. Here a
/// listener is opened by uid U exactly like that, and the internet side (`inet`) only accepts
/// packets from the uplink address on the uplink (strict `rp_filter`), the way a LAN client
/// behind a real host never sees packets that left through a modem.
@Suite(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
struct ReturnPathTests {
    @Test func repliesOfAListenerOpenedByTheModemsUidLeaveByTheUplink() async throws {
        try await NetnsLab.with(modems: 1) { lab in
            let driver = IPRouteNetworkControl(namespace: lab.farm)
            let modem = RoutingFixtures.modem(1, in: lab)
            let port = try #require(modem.proxyPorts.first)
            try await lab.run(in: lab.inet, [NetnsLab.python, "-c", "open('/proc/sys/net/ipv4/conf/all/rp_filter', 'w').write('1')"]).check()
            // The carrier's MAC is fixed: an ARP request for the gateway sent on behalf of a stray
            // reply would carry the uplink address, be filtered too and leave the gateway FAILED.
            let carrier = try #require(try lab.ipJSON(lab.inet, "link", "show", lab.carrierInterface(1)).first?["address"] as? String)
            try lab.ip(lab.farm, "neigh", "replace", lab.gateway(1), "lladdr", carrier, "dev", lab.modemInterface(1), "nud", "permanent")

            let listener = Task.detached {
                try await lab.run(in: lab.farm, uid: modem.uid, [NetnsLab.python, "-c", Self.listener, "\(port)"], timeout: .seconds(30))
            }
            try await Self.waitUntilListening(lab, port: port, uid: modem.uid)

            // Without the reply rules: the bug, as the proxy helper found it.
            var withoutReplies = modem
            withoutReplies.proxyPorts = []
            try await RoutingFixtures.converge(driver, [withoutReplies])
            #expect(try Self.device(lab, replyingTo: port, uid: modem.uid) == lab.modemInterface(1))
            let lost = try await Self.connect(lab, port: port, timeout: .milliseconds(1500))
            #expect(!lost.succeeded, "the reply left through \(lab.modemInterface(1)) yet was accepted: \(lost.stdout)")

            // With them: the same listener's replies take the uplink, and its uid still leaves by the modem.
            try await RoutingFixtures.converge(driver, [modem])
            #expect(try Self.device(lab, replyingTo: port, uid: modem.uid) == "eth0")
            let answered = try await Self.connect(lab, port: port, timeout: .seconds(5))
            #expect(answered.stdout == "hello\n", "\(answered.stderr)")
            let egress = try await lab.httpGet(from: lab.farm, uid: modem.uid)
            #expect(egress.stdout == lab.address(1) + "\n", "\(egress.stderr)")

            try await lab.run(in: lab.farm, [NetnsLab.python, "-c", Self.client, "127.0.0.1", "\(port)", "5", "quit"]).check()
            let served = try await listener.value
            #expect(served.succeeded, "\(served.stderr)")
        }
    }

    /// Where the kernel sends a TCP reply from `port` of `uid` to a client behind the uplink.
    private static func device(_ lab: NetnsLab, replyingTo port: Int, uid: UInt32) throws -> String? {
        let route = try lab.ipJSON(lab.farm, "route", "get", NetnsLab.uplinkGateway, "from", NetnsLab.uplinkAddress,
                                   "uid", "\(uid)", "ipproto", "tcp", "sport", "\(port)", "dport", "40000")
        return route.first?["dev"] as? String
    }

    /// A client in `inet` that connects to the farm's uplink address.
    private static func connect(_ lab: NetnsLab, port: Int, timeout: Duration) async throws -> CommandOutput {
        try await lab.run(in: lab.inet, [NetnsLab.python, "-c", client, NetnsLab.uplinkAddress, "\(port)",
                                   String(format: "%.1f", timeout.timeInterval), "hi"], timeout: timeout + .seconds(5))
    }

    /// Waits until the listener is up, and checks that its socket is uid U's (as after a reload).
    private static func waitUntilListening(_ lab: NetnsLab, port: Int, uid: UInt32) async throws {
        let listening = try await lab.waitUntilListening(in: lab.farm, port: port)
        #expect(listening.contains("uid:\(uid)"), "\(listening)")
    }

    /// Listens on 0.0.0.0:PORT as whoever runs it; answers `hello` to each client until one says `quit`.
    private static let listener = #"""
    import socket, sys
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(sys.argv[1])))
    server.listen(8)
    server.settimeout(25)
    while True:
        connection, _ = server.accept()
        connection.settimeout(5)
        line = connection.makefile().readline().strip()
        if line == "quit":
            break
        connection.sendall(b"hello\n")
        connection.close()
    """#

    /// Connects to ADDRESS:PORT within TIMEOUT seconds, says WORD and prints the answer.
    private static let client = #"""
    import socket, sys
    address, port, timeout, word = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    try:
        connection = socket.create_connection((address, port), timeout=timeout)
        connection.sendall(word.encode() + b"\n")
        sys.stdout.write(connection.makefile().readline())
    except OSError as error:
        sys.exit("no answer: %s" % error)
    """#
}
