import Foundation
import Synchronization

/// The state directory (DESIGN §4): memory, allocations, status files and the audit log, all
/// written whole. Holding a `StateStore` means holding the directory's lock, so what this store
/// last read or wrote is what is on disk: it is kept (`Known`) and a pass that changes nothing
/// reads and writes nothing (docs/status.md).
public final class StateStore: Sendable {
    public let root: String
    private let lock: StateLock?
    let known = Mutex(Known())

    /// Creates the layout and takes the lock; fails naming the holder when another reconciler runs.
    /// `locking: false` only reads (the dry run): it creates nothing and may run beside a daemon.
    public init(root: String, locking: Bool = true) throws(StateError) {
        self.root = root
        guard locking else {
            lock = nil
            return
        }
        for directory in [root, root + "/modems", root + "/status", root + "/status/modems", root + "/log", root + "/requests"] {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StateError(reason: "StateIOError", message: "cannot create \(directory): \(error.localizedDescription)")
            }
        }
        lock = try StateLock(directory: root)
        for directory in [root, root + "/modems", root + "/status", root + "/status/modems"] {
            AtomicFile.removeLeftovers(in: directory)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// A state file's value; nil only when there is no such file. One that cannot be read (an I/O
    /// error, a directory in its place) or decoded fails the caller: taken for missing, it would
    /// hand out its modems' ports again or forget their decisions.
    static func read<T: Decodable>(_ type: T.Type, at path: String) throws(StateError) -> T? {
        guard let data = try AtomicFile.contents(of: path) else { return nil }
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw StateError(reason: "StateCorrupt", message: "cannot read \(path): \(error)")
        }
    }

    /// `durable: false` for derived files (status), whose loss a crash may cause and the next pass repairs.
    @discardableResult
    func write<T: Encodable>(_ value: T, to path: String, durable: Bool = true) throws(StateError) -> Bool {
        let data: Data
        do {
            data = try Self.encoder.encode(value) + Data("\n".utf8)
        } catch {
            throw StateError(reason: "StateIOError", message: "cannot encode \(path): \(error)")
        }
        return try AtomicFile.write(data, to: path, durable: durable)
    }

    // MARK: allocations

    public func loadAllocations() throws(StateError) -> Allocations {
        if let allocations = known.withLock({ $0.allocations }) { return allocations }
        let allocations = try Self.read(Allocations.self, at: root + "/allocations.json") ?? Allocations()
        known.withLock { $0.allocations = allocations }
        return allocations
    }

    public func saveAllocations(_ allocations: Allocations) throws(StateError) {
        guard known.withLock({ $0.allocations }) != allocations else { return }
        try write(allocations, to: root + "/allocations.json")
        known.withLock { $0.allocations = allocations }
    }

    // MARK: memory

    func memoryPath(_ serial: String) -> String { root + "/modems/" + serial + ".json" }

    /// Every modem's memory, by serial: read from disk once, then as this store last saved it.
    public func loadMemory() throws(StateError) -> [String: ModemMemory] {
        if let memory = known.withLock({ $0.memory }) { return memory }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/modems")) ?? []
        var memory: [String: ModemMemory] = [:]
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            if let entry = try Self.read(ModemMemory.self, at: root + "/modems/" + name) { memory[entry.serial] = entry }
        }
        known.withLock {
            $0.memory = memory
            $0.memoryOnDisk = memory.mapValues(\.durable)
        }
        return memory
    }

    /// Keeps the memory for this process's later passes and writes its file (durably: it holds
    /// decisions) only when more than its volatile facts changed — a probe that succeeded again is
    /// no reason to write, nor traffic that moved less than `ByteCounts.worthWriting` says.
    ///
    /// A decision already carried out (a rotation done) is kept even when its file cannot be
    /// written (a full disk), so it is not carried out again on every pass meanwhile. An intent
    /// recorded before acting (a request taken) is kept `onlyOnceWritten`: if it is not on disk,
    /// the action does not run and must not count as done.
    public func saveMemory(_ memory: ModemMemory, onlyOnceWritten: Bool = false) throws(StateError) {
        let onDisk = known.withLock {
            if !onlyOnceWritten { $0.memory?[memory.serial] = memory }
            return $0.memoryOnDisk[memory.serial]
        }
        let written = onDisk.map(memory.differsDurably(from:)) ?? true
        if written { try write(memory, to: memoryPath(memory.serial)) }
        known.withLock {
            $0.memory?[memory.serial] = memory
            if written { $0.memoryOnDisk[memory.serial] = memory.durable }
        }
    }

    public func forgetMemory(serial: String) throws(StateError) {
        try AtomicFile.remove(memoryPath(serial))
        known.withLock {
            $0.memory?[serial] = nil
            $0.memoryOnDisk[serial] = nil
        }
    }

    // MARK: status

    public var statusDirectory: String { root + "/status" }

    /// Names of the modems that have a status file.
    public func statusNames() -> [String] {
        if let names = known.withLock({ $0.statusNames }) { return names.sorted() }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: statusDirectory + "/modems")) ?? []
        let statusNames = names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(".json".count)) }
        // Only a store holding the lock knows that nobody else writes them.
        if lock != nil { known.withLock { $0.statusNames = Set(statusNames) } }
        return statusNames.sorted()
    }

    public func readModemStatus(_ name: String) throws(StateError) -> ModemStatus? {
        try Self.read(ModemStatus.self, at: statusDirectory + "/modems/" + name + ".json")
    }

    public func writeModemStatus(_ status: ModemStatus) throws(StateError) {
        try write(status, to: statusDirectory + "/modems/" + status.name + ".json", durable: false)
        known.withLock { _ = $0.statusNames?.insert(status.name) }
    }

    public func removeModemStatus(_ name: String) throws(StateError) {
        try AtomicFile.remove(statusDirectory + "/modems/" + name + ".json")
        known.withLock {
            _ = $0.statusNames?.remove(name)
            $0.modems[name] = nil
        }
    }

    public func writeFarmStatus(_ status: FarmStatus) throws(StateError) {
        try write(status, to: statusDirectory + "/farm.json", durable: false)
    }

    public func readFarmStatus() throws(StateError) -> FarmStatus? {
        try Self.read(FarmStatus.self, at: statusDirectory + "/farm.json")
    }

    /// Puts farm.yaml's errors into farm.json when no pass can run on a valid spec (the daemon
    /// started with an invalid farm.yaml); before any pass the farm shows no modems.
    public func recordSpecErrors(_ errors: [String], now: Date) throws(StateError) {
        var farm = try readFarmStatus() ?? FarmStatus(
            specRevision: "", lastPass: now, lastPassSeconds: 0, converged: false, modems: 0,
            phases: Dictionary(uniqueKeysWithValues: Phase.allCases.map { ($0.rawValue, 0) }), unclaimedModems: [], failedActions: 0)
        farm.specErrors = errors
        try writeFarmStatus(farm)
        known.withLock { $0.farm = nil }
    }

    public func writeMetrics(_ text: String) throws(StateError) {
        try AtomicFile.write(Data(text.utf8), to: statusDirectory + "/metrics.prom", durable: false)
    }

    // MARK: audit log

    /// Appends one line to state/log/actions.jsonl (append-only; a line is written whole or not at all).
    public func appendAudit(_ entry: AuditEntry) throws(StateError) {
        let path = root + "/log/actions.jsonl"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let line = try? encoder.encode(entry) + Data("\n".utf8) else {
            throw StateError(reason: "StateIOError", message: "cannot encode audit entry")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("cannot open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("cannot look at", path) }
        var written = 0
        while written < line.count {
            let count = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let failure = StateError.system("cannot append to", path)
                // A full disk can take part of a line: cut it off again, so every line stays whole.
                if written > 0 { _ = ftruncate(fd, info.st_size) }
                throw failure
            }
            written += count
        }
    }
}

/// One line of state/log/actions.jsonl.
public struct AuditEntry: Sendable, Codable, Equatable {
    public var time: Date
    public var modem: String?
    public var action: String
    public var summary: String
    public var reason: String
    /// `ok`, or the failure reason (`Timeout`, …).
    public var outcome: String
    public var message: String?
}
