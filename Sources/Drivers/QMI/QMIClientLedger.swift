import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The QMI client ids this process holds in modems, on disk, so that the next process can free
/// what a killed one left behind (neither the modem nor qmi-proxy ever frees them: a modem has
/// 16 per service). One file per process, `<directory>/<pid>`, one `<device> <service> <cid>`
/// line per id, kept locked (`flock`) while the process lives: a file nobody holds belongs to a
/// dead process, whatever its pid says. Data sessions handed to the reconciler are not listed:
/// the reconciler's memory keeps those.
final class QMIClientLedger: @unchecked Sendable {
    struct Entry: Hashable, Sendable {
        var device: String
        var service: QMIService
        var cid: UInt8
    }

    private let directory: String
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var entries: Set<Entry> = []

    init(directory: String) {
        self.directory = directory
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Records an id this process now holds.
    func record(_ entry: Entry) { update { $0.insert(entry) } }

    /// Forgets an id this process released (or handed to the reconciler as a session).
    func forget(_ entry: Entry) { update { $0.remove(entry) } }

    /// Takes over the entries of dead processes on `device`: they become this process's (so that
    /// a kill during the clean-up loses nothing) and are returned for releasing. Entries on other
    /// devices stay in their files for whoever opens those.
    func adoptOrphans(on device: String) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var adopted: [Entry] = []
        for name in names where Int32(name) != nil && Int32(name) != getpid() {
            let path = directory + "/" + name
            let other = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            guard other >= 0 else { continue }
            defer { close(other) }
            // Held: its process lives. Unlinked meanwhile: another process adopted it.
            guard flock(other, LOCK_EX | LOCK_NB) == 0, Self.isLinked(other, at: path) else { continue }
            let all = Self.parse(Self.read(other))
            let mine = all.filter { $0.device == device }
            if all.isEmpty { unlink(path) }
            guard !mine.isEmpty else { continue }
            update { $0.formUnion(mine) }
            let rest = all.subtracting(mine)
            if rest.isEmpty {
                unlink(path)
            } else {
                Self.write(rest, to: other)
            }
            adopted += mine
        }
        return adopted.sorted { ($0.service.rawValue, $0.cid) < ($1.service.rawValue, $1.cid) }
    }

    /// Removes this process's file when it lists nothing more (every id released): a normal exit
    /// leaves no trace. One that still lists ids stays for the next process.
    func closeIfEmpty() {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0, entries.isEmpty else { return }
        unlink(directory + "/\(getpid())")
        close(fd)
        fd = -1
    }

    /// Rewrites this process's file; creates (and locks) it on first use. Best effort: without a
    /// writable directory the ids are still released on a normal exit, only a kill leaks them.
    private func update(_ change: (inout Set<Entry>) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        change(&entries)
        if fd < 0 {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let created = open(directory + "/\(getpid())", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard created >= 0 else { return }
            guard flock(created, LOCK_EX | LOCK_NB) == 0 else {
                close(created)
                return
            }
            fd = created
        }
        Self.write(entries, to: fd)
    }

    private static func write(_ entries: Set<Entry>, to fd: Int32) {
        let text = entries.map { "\($0.device) \($0.service.rawValue) \($0.cid)\n" }.sorted().joined()
        let bytes = Array(text.utf8)
        _ = ftruncate(fd, 0)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    private static func read(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while bytes.count < 1 << 20 {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard count > 0 else { break }
            bytes += buffer[..<count]
            offset += off_t(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lines that do not parse are dropped: a torn or foreign file costs nothing but its ids.
    private static func parse(_ text: String) -> Set<Entry> {
        Set(text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let service = QMIService(rawValue: String(fields[1])), let cid = UInt8(fields[2]) else { return nil }
            return Entry(device: String(fields[0]), service: service, cid: cid)
        })
    }

    private static func isLinked(_ fd: Int32, at path: String) -> Bool {
        var open = stat(), named = stat()
        return fstat(fd, &open) == 0 && lstat(path, &named) == 0 && open.st_ino == named.st_ino && open.st_dev == named.st_dev
    }
}
