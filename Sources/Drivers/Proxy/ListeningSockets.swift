import Glibc

/// The listening TCP sockets of one network namespace: socket inode → port.
///
/// Asked of the kernel the way `ss -ltn` does, with one sock_diag netlink dump per address family
/// for the LISTEN state only, so the kernel walks its listening table and nothing else. Reading
/// `/proc/<pid>/net/tcp` instead makes it walk every bucket of the established-connection table
/// as well, which was most of what an idle pass spent looking at its proxies. A kernel without
/// sock_diag for TCP (`tcp_diag` not built) is read through that table instead.
enum ListeningSockets {
    /// The sockets of the namespace at `namespacePath` (`/proc/<pid>/ns/net`, `/run/netns/NAME`);
    /// nil when it cannot be looked at (gone, or not enterable).
    static func of(namespace namespacePath: String, sockDiag: Bool = true) -> [UInt64: Int]? {
        try? NetworkNamespace.run(at: namespacePath) { here(sockDiag: sockDiag) }.get()
    }

    /// The calling thread's namespace.
    private static func here(sockDiag: Bool) -> [UInt64: Int]? {
        if sockDiag, let sockets = dump() { return sockets }
        return ProcFS.listeningSockets(netDirectory: "/proc/thread-self/net")
    }

    // MARK: sock_diag (linux/sock_diag.h, linux/inet_diag.h)

    private static let netlinkSockDiag: Int32 = 4
    private static let sockDiagByFamily: UInt16 = 20
    private static let done: UInt16 = 3, error: UInt16 = 2
    private static let request: UInt16 = 0x1, dumpFlags: UInt16 = 0x300
    private static let listenState: UInt32 = 1 << 10
    /// `struct nlmsghdr`, `struct inet_diag_req_v2` and `struct inet_diag_msg`.
    private static let headerSize = 16, requestSize = 56, messageSize = 72

    /// nil when the kernel refuses the socket or the dump (no sock_diag for TCP).
    static func dump() -> [UInt64: Int]? {
        let socket = Glibc.socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkSockDiag)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var sockets: [UInt64: Int] = [:]
        for (sequence, family) in [AF_INET, AF_INET6].enumerated() {
            guard send(socket, family: UInt8(family), sequence: UInt32(sequence + 1)),
                  receive(socket, sequence: UInt32(sequence + 1), into: &sockets) else { return nil }
        }
        return sockets
    }

    private static func send(_ socket: Int32, family: UInt8, sequence: UInt32) -> Bool {
        var message = [UInt8](repeating: 0, count: headerSize + requestSize)
        message.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(headerSize + requestSize), toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: sockDiagByFamily, toByteOffset: 4, as: UInt16.self)
            raw.storeBytes(of: request | dumpFlags, toByteOffset: 6, as: UInt16.self)
            raw.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
            raw[headerSize] = family
            raw[headerSize + 1] = UInt8(IPPROTO_TCP)
            raw.storeBytes(of: listenState, toByteOffset: headerSize + 4, as: UInt32.self)
        }
        return message.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) } == message.count
    }

    /// Reads the dump's replies until its end; false on an error reply or a failed read.
    private static func receive(_ socket: Int32, sequence: UInt32, into sockets: inout [UInt64: Int]) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 32768)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            var offset = 0
            let finished: Bool? = buffer.withUnsafeBytes { raw in
                while offset + headerSize <= count {
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                    let type = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
                    guard length >= headerSize, offset + length <= count else { return false }
                    if raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self) == sequence {
                        if type == done { return true }
                        if type == error { return false }
                        if type == sockDiagByFamily, length >= headerSize + messageSize {
                            let body = offset + headerSize
                            let port = Int(UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: body + 4, as: UInt16.self)))
                            let inode = UInt64(raw.loadUnaligned(fromByteOffset: body + 68, as: UInt32.self))
                            if inode != 0 { sockets[inode] = port }
                        }
                    }
                    offset += (length + 3) & ~3
                }
                return nil
            }
            if let finished { return finished }
        }
    }
}
