import Glibc

/// Wakes the daemon when the kernel's IPv4 routing (links, addresses, routes, rules) or nftables
/// change under it — someone ran `ip rule flush` or `nft flush ruleset`, or restarted
/// nftables.service, whose config starts by flushing every table — so the pass that follows puts
/// back what is missing at once, not at the next timed pass. The daemon's own changes wake it as
/// well: the pass after them finds nothing to do.
public enum KernelChanges {
    /// `RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE`.
    static let routingGroups: UInt32 = 0x1 | 0x10 | 0x40 | 0x80
    /// `NETLINK_NETFILTER` and its `NFNLGRP_NFTABLES` group.
    static let netfilter: Int32 = 12
    static let nftablesGroup: Int32 = 7

    /// Subscribes before returning, in the calling thread's network namespace; runs until the
    /// consumer stops iterating.
    public static func wakeUps() throws(SystemCallError) -> AsyncStream<Void> {
        var sockets: [Int32] = []
        let stop: StopPipe
        do throws(SystemCallError) {
            sockets.append(try subscribe(protocol: 0, groups: routingGroups, to: "routing changes"))
            sockets.append(try subscribe(protocol: netfilter, membership: nftablesGroup, to: "nftables changes"))
            stop = try StopPipe()
        } catch {
            sockets.forEach { close($0) }
            throw error
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in stop.fire() }
        let watched = sockets
        BurstWatch(descriptors: watched, quietPeriod: .milliseconds(200), maxDelay: .seconds(2), minimumGap: .seconds(1)) {
            watched.map(drain).contains(true)
        }
        .start(name: "kernel-changes", stop: stop, wake: { continuation.yield() }) {
            watched.forEach { close($0) }
            continuation.finish()
        }
        return stream
    }

    /// A non-blocking netlink socket bound to `groups` (the legacy bit mask) or joined to `membership`.
    private static func subscribe(protocol number: Int32, groups: UInt32 = 0, membership: Int32? = nil,
                                  to what: String) throws(SystemCallError) -> Int32 {
        let socket = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), number)
        guard socket >= 0 else { throw SystemCallError("open a netlink socket for \(what)") }
        // struct sockaddr_nl: family, padding, port id 0 (the kernel picks one), groups.
        var address = [UInt8](repeating: 0, count: 12)
        address.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt16(AF_NETLINK), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: groups, toByteOffset: 8, as: UInt32.self)
        }
        var failed = address.withUnsafeBytes { bind(socket, $0.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) } != 0
        if !failed, var group = membership {
            failed = setsockopt(socket, 270 /* SOL_NETLINK */, 1 /* NETLINK_ADD_MEMBERSHIP */, &group, socklen_t(MemoryLayout<Int32>.size)) != 0
        }
        guard !failed else {
            let error = SystemCallError("subscribe to \(what)")
            close(socket)
            throw error
        }
        return socket
    }

    /// Reads everything queued; true when anything was. A lost message (ENOBUFS: the queue
    /// overflowed) counts as a change.
    private static func drain(_ socket: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var any = false
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 || (count < 0 && errno == ENOBUFS) {
                any = true
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return any
            }
        }
    }
}
