import Glibc

/// Writes files whole or not at all: temp file in the same directory, fsync, rename, fsync dir.
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, owner: (uid: UInt32, gid: UInt32)?) throws(ProxySupervisorError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = "\(directory)/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io(operation: "create", path: temporary, errno: errno) }
        do {
            try writeAll(fd, bytes, path: temporary)
            try check(fchmod(fd, mode), "chmod", temporary)
            if let owner { try check(fchown(fd, owner.uid, owner.gid), "chown", temporary) }
            try check(fsync(fd), "fsync", temporary)
            try check(close(fd), "close", temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let failure = errno
            unlink(temporary)
            throw .io(operation: "rename", path: path, errno: failure)
        }
        try syncDirectory(directory.isEmpty ? "." : directory)
    }

    static func syncDirectory(_ directory: String) throws(ProxySupervisorError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        try check(fsync(fd), "fsync", directory)
    }

    /// Creates `path` and its parents (mode 0755) when missing.
    static func makeDirectories(_ path: String) throws(ProxySupervisorError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw .io(operation: "mkdir", path: current, errno: errno) }
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(ProxySupervisorError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw .io(operation: "write", path: path, errno: errno) }
            offset += written
        }
    }

    private static func check(_ result: Int32, _ operation: String, _ path: String) throws(ProxySupervisorError) {
        if result != 0 { throw .io(operation: operation, path: path, errno: errno) }
    }
}
