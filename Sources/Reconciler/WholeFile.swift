#if canImport(Glibc)
import Glibc
#endif

/// A file read to its end with plain read(2) calls. Foundation's whole-file readers
/// (`String(contentsOfFile:)`, `Data(contentsOf:)`, `FileManager.contents(atPath:)`) trust the size
/// a /proc file reports, 0, and keep only their first read: at most 4 KiB, where /proc/locks or
/// /proc/PID/maps go on.
public enum WholeFile {
    /// The file's bytes; nil when it cannot be opened or read.
    public static func bytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        // Most files read in a pass (/proc, sysfs, pid files) are a few bytes: no buffer on the heap.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            while true {
                let count = read(fd, buffer.baseAddress, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return count == 0 ? bytes : nil }
                bytes.append(contentsOf: buffer[0..<count])
            }
        }
    }

    public static func text(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
