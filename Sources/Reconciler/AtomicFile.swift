import Spec
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error of the state directory, naming the path and the system's reason.
public struct StateError: OperatorFacingError, CustomStringConvertible {
    public var reason: String
    public var message: String
    public var description: String { message }
    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    static func system(_ what: String, _ path: String, errno code: Int32 = errno) -> StateError {
        StateError(reason: "StateIOError", message: "\(what) \(path): \(String(cString: strerror(code)))")
    }
}

/// Writes files whole or not at all (DESIGN §4): temp file in the same directory, fsync, rename,
/// fsync the directory. A crash at any instant leaves either the old or the new file, never a mix.
/// Derived files (status, metrics) skip both fsyncs (`durable: false`): they are still replaced
/// whole by the rename, but a crash may lose the newest version, which the next pass rewrites —
/// and an SD card is spared two flushes per file.
public enum AtomicFile {
    /// Prefix of temp files; a new state store removes leftovers of a crashed writer.
    static let tempMarker = ".tmp-"

    /// Writes `data` to `path` unless the file already holds exactly these bytes (its mtime then
    /// stays as it is). Returns whether it wrote. `owner` hands the file to another uid/gid before
    /// it appears under its name (a proxy re-reads its config after dropping privileges).
    @discardableResult
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644,
                             owner: (uid: UInt32, gid: UInt32)? = nil, durable: Bool = true) throws(StateError) -> Bool {
        if let current = try? contents(of: path), current == data { return false }
        let directory = PlainText.directory(of: path)
        let base = PlainText.name(of: path)
        let temp = directory + "/" + tempMarker + base + "." + String(getpid()) + "." + String(UInt32.random(in: 0...UInt32.max))
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system("cannot create", temp) }
        var failure: StateError?
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = .system("cannot write", temp)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fchmod(fd, mode) != 0 { failure = .system("cannot chmod", temp) }
        if failure == nil, let owner, fchown(fd, owner.uid, owner.gid) != 0 { failure = .system("cannot chown", temp) }
        if failure == nil, durable, fsync(fd) != 0 { failure = .system("cannot fsync", temp) }
        close(fd)
        if let failure {
            unlink(temp)
            throw failure
        }
        guard rename(temp, path) == 0 else {
            let error = StateError.system("cannot rename into", path)
            unlink(temp)
            throw error
        }
        if durable { try syncDirectory(directory) }
        return true
    }

    /// The bytes of the file at `path`; nil only when there is none (ENOENT). Any other failure
    /// to read it throws, so that a file that is there is never taken for missing.
    public static func contents(of path: String) throws(StateError) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .system("cannot open", path)
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .system("cannot read", path) }
            if count == 0 { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }

    /// Makes a rename or unlink in `directory` durable.
    static func syncDirectory(_ directory: String) throws(StateError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("cannot open", directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system("cannot fsync", directory) }
    }

    /// Removes a file if it exists, durably.
    public static func remove(_ path: String) throws(StateError) {
        guard unlink(path) == 0 else {
            if errno == ENOENT { return }
            throw .system("cannot remove", path)
        }
        try syncDirectory(PlainText.directory(of: path))
    }

    /// Removes temp files a killed writer left in `directory`.
    static func removeLeftovers(in directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(tempMarker) { unlink(directory + "/" + name) }
    }
}
