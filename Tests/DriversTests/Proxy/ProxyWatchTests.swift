import Foundation
import Glibc
import Testing
@testable import Drivers

/// The supervisor's cheap looks: the namespace's listening sockets from sock_diag (and from the
/// TCP tables where the kernel has no sock_diag), a verified proxy followed through its pidfd, and
/// a socket's holder checked where it was found.
@Suite struct ProxyWatchTests {
    /// A loopback (or IPv6 loopback) listener on a free port, and that port.
    static func listener(ipv6: Bool = false) -> (fd: Int32, port: Int) {
        if !ipv6 {
            let (fd, port) = ProxyTestSupport.boundLoopbackSocket()
            listen(fd, 1)
            return (fd, port)
        }
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listen(fd, 1)
        return (fd, Int(UInt16(bigEndian: address.sin6_port)))
    }

    @Test(arguments: [true, false]) func listeningSocketsOfThisNamespace(sockDiag: Bool) throws {
        let four = Self.listener(), six = Self.listener(ipv6: true)
        let (bound, boundPort) = ProxyTestSupport.boundLoopbackSocket()  // bound, not listening
        defer { [four.fd, six.fd, bound].forEach { close($0) } }
        let mine = ProcFS.sockets(getpid())
        let sockets = try #require(ListeningSockets.of(namespace: "/proc/self/ns/net", sockDiag: sockDiag))
        for (fd, port) in [four, six] {
            let inode = try #require(mine.first { $0.value == fd }?.key)
            #expect(sockets[inode] == port)
        }
        #expect(!sockets.values.contains(boundPort), "a socket that does not listen is not listed")
        #expect(ListeningSockets.of(namespace: "/proc/self/ns/no-such") == nil)
        #expect(ListeningSockets.dump() != nil, "this kernel answers sock_diag, so both ways were tried")
    }

    @Test(.enabled(if: NetnsLab.canRun, "needs root to create network namespaces; CI (CI=true) fails instead of skipping"))
    func bothWaysAgreeInAnotherNamespace() throws {
        let name = "pfwatch\(getpid() % 100_000)"
        try ProxyTestSupport.run("/usr/sbin/ip", ["netns", "add", name])
        defer { _ = try? ProxyTestSupport.run("/usr/sbin/ip", ["netns", "del", name]) }
        try ProxyTestSupport.run("/usr/sbin/ip", ["-n", name, "link", "set", "lo", "up"])
        let server = try ProxySpawner.spawn(["/usr/sbin/ip", "netns", "exec", name, "/usr/bin/python3", "-c",
                                             "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 4711)); s.listen(); time.sleep(30)"],
                                            outputPath: "/dev/null")
        defer { kill(server, SIGKILL); _ = waitpid(server, nil, 0) }
        var viaDiag: [UInt64: Int]?
        for _ in 0..<250 where viaDiag?.values.contains(4711) != true {
            viaDiag = ListeningSockets.of(namespace: "/run/netns/\(name)")
            usleep(20_000)
        }
        #expect(viaDiag?.values.contains(4711) == true)
        #expect(viaDiag == ListeningSockets.of(namespace: "/run/netns/\(name)", sockDiag: false))
        let here = try #require(ListeningSockets.of(namespace: "/proc/self/ns/net"))
        #expect(here.keys.allSatisfy { viaDiag?[$0] == nil }, "the other namespace's sockets only")
    }

    @Test func aVerifiedProcessIsFollowedUntilItExits() async throws {
        let pid = try ProxySpawner.spawn(["/bin/sleep", "30"], outputPath: "/dev/null")
        defer { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        let watch = ProxyWatch()
        var looks = 0
        let look = { looks += 1; return true }
        #expect(watch.verify(pid, running: "/a.cfg", look))
        #expect(watch.verify(pid, running: "/a.cfg", look))
        #expect(looks == 1, "verified once, then followed")
        #expect(!watch.isStill(pid, running: "/b.cfg"), "another modem's config is looked at again")
        #expect(!watch.verify(pid, running: "/a.cfg") { false }, "forgotten with the other config: looked at again")
        #expect(watch.verify(pid, running: "/a.cfg", look) && looks == 2)
        kill(pid, SIGKILL)
        #expect(try await ProxyTestSupport.eventually { !watch.isStill(pid, running: "/a.cfg") }, "exited: a zombie counts as gone")
        #expect(!watch.verify(pid, running: "/a.cfg", look) && looks == 3, "a zombie is not taken for a proxy, whatever /proc said")
        _ = waitpid(pid, nil, 0)
        #expect(!watch.verify(pid, running: "/a.cfg", look) && looks == 3, "a pid nobody has: not even looked at")
    }

    /// Without pidfds (a kernel before 5.3, or no descriptor left) every look reads /proc again:
    /// a verdict that cannot be followed is not remembered, so a reused pid is never believed.
    @Test(arguments: [ENOSYS, EMFILE]) func withoutAPidfdEveryLookReadsProcAgain(failure: Int32) throws {
        let pid = try ProxySpawner.spawn(["/bin/sleep", "30"], outputPath: "/dev/null")
        defer { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        let watch = ProxyWatch { _ in errno = failure; return -1 }
        var looks = 0
        #expect(watch.verify(pid, running: "/a.cfg") { looks += 1; return true })
        #expect(!watch.isStill(pid, running: "/a.cfg"), "believed, not remembered")
        #expect(watch.verify(pid, running: "/a.cfg") { looks += 1; return true } && looks == 2)
        #expect(!watch.verify(pid, running: "/a.cfg") { looks += 1; return false } && looks == 3, "what /proc says now decides")
    }

    /// A remembered proxy that exits wakes the daemon once; a forgotten one, or one the supervisor
    /// stops itself, wakes nobody.
    @Test func anExitWakesTheDaemonUnlessItWasExpected() async throws {
        let watch = ProxyWatch()
        let exits = StreamLog(try watch.exits())
        defer { exits.stop() }
        var pids: [Int32] = []
        for _ in 0..<3 { pids.append(try ProxySpawner.spawn(["/bin/sleep", "30"], outputPath: "/dev/null")) }
        defer { for pid in pids { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) } }
        for pid in pids { #expect(watch.verify(pid, running: "/a.cfg") { true }) }

        // Stopped by the supervisor, and no longer recorded: neither is news.
        watch.expectExit(of: pids[0])
        watch.keep(only: [pids[0], pids[2]])
        for pid in pids.prefix(2) { kill(pid, SIGKILL) }
        #expect(try await ProxyTestSupport.eventually { pids.prefix(2).allSatisfy { !ProcFS.isAlive($0) } })
        try await Task.sleep(for: .milliseconds(400))  // longer than a burst's quiet period

        // A crash: one wake-up, and only one, though the pidfd stays readable until the next look.
        kill(pids[2], SIGKILL)
        #expect(await exits.wait { $0.elements.count >= 1 })
        try await Task.sleep(for: .milliseconds(400))
        #expect(exits.elements.count == 1, "the expected and the forgotten exits woke nobody, the crash once")
        #expect(!watch.isStill(pids[2], running: "/a.cfg"), "the next look finds it gone")
    }

    @Test func forgetsWhatIsNoLongerRecorded() throws {
        let pid = try ProxySpawner.spawn(["/bin/sleep", "30"], outputPath: "/dev/null")
        defer { kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        let watch = ProxyWatch()
        #expect(watch.verify(pid, running: "/a.cfg") { true })
        watch.keep(only: [pid])
        #expect(watch.isStill(pid, running: "/a.cfg"))
        watch.keep(only: [])
        #expect(!watch.isStill(pid, running: "/a.cfg"))
    }

    @Test func aSocketIsCheckedWhereItWasFound() throws {
        let first = Self.listener()
        let me = getpid()
        let inode = try #require(ProcFS.socketInode(me, fd: first.fd))
        let watch = ProxyWatch()
        var listening = [inode: first.port]
        #expect(watch.remembered(listening, among: [me]).unknown == listening, "never looked for: unknown")
        watch.found([inode: (me, first.fd)], listening: listening)
        #expect(watch.remembered(listening, among: [me]).holders == [first.port: [me]])
        #expect(watch.remembered(listening, among: []).unknown == listening, "only among the given processes")
        // The descriptor now holds another socket: the remembered place no longer says who holds the first.
        let second = Self.listener()
        defer { close(second.fd) }
        #expect(dup2(second.fd, first.fd) == first.fd)
        defer { close(first.fd) }
        #expect(watch.remembered(listening, among: [me]).unknown == listening)
        // A socket that stops listening is forgotten.
        listening = [:]
        watch.found([:], listening: listening)
        #expect(watch.remembered([inode: first.port], among: [me]).unknown.count == 1)
    }
}
