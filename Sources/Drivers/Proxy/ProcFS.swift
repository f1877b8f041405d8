import Glibc

/// The parts of /proc the supervisor reads: who a process is, and which TCP ports it listens on.
///
/// Listening sockets are found the way `ss -ltnp` does: LISTEN rows of `/proc/<pid>/net/tcp{,6}`
/// (which show that process's network namespace) give socket inodes and ports, and the
/// `socket:[inode]` links in `/proc/<pid>/fd` say which process holds them.
enum ProcFS {
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? bytes : nil }
            bytes += buffer[0..<count]
        }
    }

    static func readText(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The argument vector; nil when the process is gone or a zombie (whose cmdline is empty).
    static func commandLine(_ pid: Int32) -> [String]? {
        guard let bytes = read("/proc/\(pid)/cmdline"), !bytes.isEmpty else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast(bytes.last == 0 ? 1 : 0)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Alive and not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != nil && state != "Z" && state != "X"
    }

    /// The real uid (first field of `Uid:` in /proc/<pid>/status).
    static func realUID(_ pid: Int32) -> UInt32? {
        guard let status = readText("/proc/\(pid)/status") else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        return line?.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { UInt32($0) }
    }

    /// Names in a directory (without `.` and `..`); empty when it cannot be read.
    static func entries(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func allPIDs() -> [Int32] { entries("/proc").compactMap { Int32($0) } }

    /// Inodes of the sockets a process holds open.
    static func socketInodes(_ pid: Int32) -> Set<UInt64> {
        let fdDir = "/proc/\(pid)/fd"
        var inodes: Set<UInt64> = []
        var target = [CChar](repeating: 0, count: 64)
        for name in entries(fdDir) {
            let count = readlink(fdDir + "/" + name, &target, target.count - 1)
            guard count > 8 else { continue }
            let link = String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.hasPrefix("socket:["), let inode = UInt64(link.dropFirst(8).dropLast()) { inodes.insert(inode) }
        }
        return inodes
    }

    /// LISTEN sockets of one network namespace: inode → port. `netDirectory` is `/proc/<pid>/net`.
    static func listeningSockets(netDirectory: String) -> [UInt64: Int] {
        var sockets: [UInt64: Int] = [:]
        for file in ["tcp", "tcp6"] {
            guard let table = read(netDirectory + "/" + file) else { continue }
            // Bytes, not Strings: a busy host's table has thousands of rows, read every pass.
            for row in table.split(separator: UInt8(ascii: "\n")).dropFirst() {
                let fields = row.split(separator: UInt8(ascii: " "))
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3].elementsEqual("0A".utf8), let colon = fields[1].lastIndex(of: UInt8(ascii: ":")),
                      let port = Int(String(decoding: fields[1][(colon + 1)...], as: UTF8.self), radix: 16),
                      let inode = UInt64(String(decoding: fields[9], as: UTF8.self)), inode != 0 else { continue }
                sockets[inode] = port
            }
        }
        return sockets
    }

    /// Identity of a network namespace (`/proc/<pid>/ns/net` or a `/run/netns/NAME` bind mount).
    static func namespaceID(_ path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    /// Ports (among `ports`) that `pid` listens on, with the socket inodes serving each.
    static func listeners(of pid: Int32, ports: Set<Int>) -> [Int: Set<UInt64>] {
        let listening = listeningSockets(netDirectory: "/proc/\(pid)/net")
        var result: [Int: Set<UInt64>] = [:]
        for inode in socketInodes(pid) {
            if let port = listening[inode], ports.contains(port) { result[port, default: []].insert(inode) }
        }
        return result
    }

    /// Every process in the namespace at `namespacePath` listening on one of `ports`: port → pids.
    /// The sockets are found in one read of the namespace's TCP table; their holders among `known`
    /// processes (our proxies) first. Only a listening socket none of them holds (a stray, or a
    /// proxy that is gone) makes every process of the machine be looked at, so an idle pass of a
    /// large farm reads the file descriptors of its own proxies and nothing else.
    static func listenersInNamespace(_ namespacePath: String, ports: Set<Int>, known: [Int32] = []) -> [Int: Set<Int32>] {
        guard !ports.isEmpty, let namespace = namespaceID(namespacePath) else { return [:] }
        let isMember = { (pid: Int32) in namespaceID("/proc/\(pid)/ns/net") == namespace }
        let members = known.filter(isMember)
        guard let reader = members.first ?? allPIDs().first(where: isMember) else { return [:] }
        let listening = listeningSockets(netDirectory: "/proc/\(reader)/net").filter { ports.contains($0.value) }
        guard !listening.isEmpty else { return [:] }
        let (holders, held) = holders(of: listening, among: members)
        if held.count == listening.count { return holders }
        return self.holders(of: listening, among: allPIDs().filter(isMember)).holders
    }

    /// Which of `pids` hold the `listening` sockets (inode → port): port → pids, and the inodes held.
    private static func holders(of listening: [UInt64: Int], among pids: [Int32]) -> (holders: [Int: Set<Int32>], held: Set<UInt64>) {
        var result: [Int: Set<Int32>] = [:]
        var held: Set<UInt64> = []
        for pid in pids {
            for inode in socketInodes(pid) {
                if let port = listening[inode] {
                    result[port, default: []].insert(pid)
                    held.insert(inode)
                }
            }
        }
        return (result, held)
    }
}
