import Glibc
import Reconciler

/// The parts of /proc the supervisor reads: who a process is, and which TCP ports it listens on.
///
/// Listening sockets are found the way `ss -ltnp` does: the namespace's listening sockets give
/// inodes and ports (`ListeningSockets`), and the `socket:[inode]` links in `/proc/<pid>/fd` say
/// which process holds them.
enum ProcFS {
    /// The argument vector; nil when the process is gone or a zombie (whose cmdline is empty).
    static func commandLine(_ pid: Int32) -> [String]? {
        guard let bytes = WholeFile.bytes("/proc/\(pid)/cmdline"), !bytes.isEmpty else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast(bytes.last == 0 ? 1 : 0)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Alive and not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = WholeFile.text("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != nil && state != "Z" && state != "X"
    }

    /// The real uid (first field of `Uid:` in /proc/<pid>/status).
    static func realUID(_ pid: Int32) -> UInt32? {
        guard let status = WholeFile.text("/proc/\(pid)/status") else { return nil }
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

    /// The sockets a process holds open: inode → descriptor number.
    static func sockets(_ pid: Int32) -> [UInt64: Int32] {
        var sockets: [UInt64: Int32] = [:]
        for fd in entries("/proc/\(pid)/fd").compactMap({ Int32($0) }) {
            if let inode = socketInode(pid, fd: fd) { sockets[inode] = fd }
        }
        return sockets
    }

    /// The inode of the socket open as `fd` in `pid`; nil when that is no socket (or gone).
    static func socketInode(_ pid: Int32, fd: Int32) -> UInt64? {
        var target = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/\(pid)/fd/\(fd)", &target, target.count - 1)
        guard count > 9 else { return nil }
        let link = String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return link.hasPrefix("socket:[") ? UInt64(link.dropFirst(8).dropLast()) : nil
    }

    /// LISTEN sockets of one network namespace from its TCP tables: inode → port. `netDirectory`
    /// is `/proc/<pid>/net` (`ListeningSockets` asks the kernel more cheaply where it can).
    static func listeningSockets(netDirectory: String) -> [UInt64: Int] {
        var sockets: [UInt64: Int] = [:]
        for file in ["tcp", "tcp6"] {
            guard let table = WholeFile.bytes(netDirectory + "/" + file) else { continue }
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
        guard let listening = ListeningSockets.of(namespace: "/proc/\(pid)/ns/net") else { return [:] }
        var result: [Int: Set<UInt64>] = [:]
        for inode in sockets(pid).keys {
            if let port = listening[inode], ports.contains(port) { result[port, default: []].insert(inode) }
        }
        return result
    }

    /// Which of `pids` hold the `listening` sockets (inode → port): port → pids, and where each
    /// socket was found.
    static func holders(of listening: [UInt64: Int], among pids: [Int32]) -> (holders: [Int: Set<Int32>], places: [UInt64: (pid: Int32, fd: Int32)]) {
        var result: [Int: Set<Int32>] = [:]
        var places: [UInt64: (pid: Int32, fd: Int32)] = [:]
        for pid in pids {
            for (inode, fd) in sockets(pid) {
                if let port = listening[inode] {
                    result[port, default: []].insert(pid)
                    places[inode] = (pid, fd)
                }
            }
        }
        return (result, places)
    }
}
