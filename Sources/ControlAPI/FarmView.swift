import Foundation
import Reconciler

/// The farm as the status files show it, read fresh on every request (they are small and the
/// daemon writes them whole), plus what the dashboard adds: whether a daemon runs, since when
/// each Ready modem has been Ready, and its rotations today (counted in the audit log).
struct FarmView: Sendable {
    let store: StateStore
    let rotations: RotationTally

    init(stateDirectory: String) throws(StateError) {
        store = try StateStore(root: stateDirectory, locking: false)
        rotations = RotationTally(path: stateDirectory + "/log/actions.jsonl")
    }

    func farm() throws(APIError) -> FarmStatus {
        try read(try store.readFarmStatus(),
                 missing: APIError(503, "NoStatus", "no status yet in \(store.statusDirectory): start `reconcile daemon` on this state directory"))
    }

    func modem(_ name: String) throws(APIError) -> ModemStatus {
        guard ModemRequest.isValidModemName(name) else { throw .unknownModem(name) }
        return try read(try store.readModemStatus(name), missing: .unknownModem(name))
    }

    /// A status file's value, `missing` when there is none, StatusUnreadable when it cannot be read.
    private func read<Value>(_ value: @autoclosure () throws(StateError) -> Value?, missing: APIError) throws(APIError) -> Value {
        let found: Value?
        do {
            found = try value()
        } catch {
            throw APIError(500, "StatusUnreadable", error.message)
        }
        guard let found else { throw missing }
        return found
    }

    /// Every modem's status; one whose file went away since the listing (it left farm.yaml) is left out.
    func modems() throws(APIError) -> [ModemStatus] {
        var modems: [ModemStatus] = []
        for name in store.statusNames() {
            do {
                modems.append(try modem(name))
            } catch where error.error == "UnknownModem" {
                continue
            }
        }
        return modems
    }

    func metrics() throws(APIError) -> String {
        guard let data = FileManager.default.contents(atPath: store.statusDirectory + "/metrics.prom") else {
            throw APIError(503, "NoStatus", "no metrics yet in \(store.statusDirectory): start `reconcile daemon` on this state directory")
        }
        return String(decoding: data, as: UTF8.self) + ((try? PullRecord.load(fromState: store.root))?.metrics ?? "")
    }

    func daemon() -> DaemonInfo { DaemonInfo(pid: StateLock.holder(ofDirectory: store.root)) }

    /// `{"farm": …, "modems": […], "daemon": …}` as GET /v1/status answers.
    func report(now: Date) throws(APIError) -> FarmReport {
        let counts = rotations.today(now: now)
        return FarmReport(farm: try farm(), modems: try modems().map { ModemReport($0, rotationsToday: counts[$0.name] ?? 0) },
                          daemon: daemon(), pull: try? PullRecord.load(fromState: store.root))
    }
}

struct DaemonInfo: Sendable, Encodable {
    var running: Bool
    var pid: Int32?
    init(pid: Int32?) {
        running = pid != nil
        self.pid = pid
    }
}

struct FarmReport: Sendable, Encodable {
    var farm: FarmStatus
    var modems: [ModemReport]
    var daemon: DaemonInfo
    /// The last `reconcile pull` of farm.yaml's repository, when the host runs one.
    var pull: PullRecord?
}

/// A modem's status file with two fields the dashboard shows: `readySince` (Ready: since the
/// last of its conditions became True) and `rotationsToday` (local day of the server).
struct ModemReport: Sendable, Encodable {
    var status: ModemStatus
    var readySince: Date?
    var rotationsToday: Int

    init(_ status: ModemStatus, rotationsToday: Int) {
        self.status = status
        self.rotationsToday = rotationsToday
        readySince = status.phase == .ready ? status.conditions.map(\.since).max() : nil
    }

    enum Extra: String, CodingKey {
        case readySince, rotationsToday
    }

    func encode(to encoder: any Encoder) throws {
        try status.encode(to: encoder)
        var extra = encoder.container(keyedBy: Extra.self)
        try extra.encodeIfPresent(readySince, forKey: .readySince)
        try extra.encode(rotationsToday, forKey: .rotationsToday)
    }
}

/// Rotations per modem on the current local day, from state/log/actions.jsonl. Reads only what
/// was appended since the last call.
final class RotationTally: @unchecked Sendable {
    private let path: String
    private let lock = NSLock()
    private var offset: UInt64 = 0
    private var day: Int?
    private var counts: [String: Int] = [:]

    init(path: String) { self.path = path }

    func today(now: Date) -> [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        let today = Self.dayNumber(now)
        if day != today {
            day = today
            offset = 0
            counts = [:]
        }
        guard let file = FileHandle(forReadingAtPath: path) else { return counts }
        defer { try? file.close() }
        let size = (try? file.seekToEnd()) ?? 0
        if size < offset { (offset, counts) = (0, [:]) }
        try? file.seek(toOffset: offset)
        let data = (try? file.readToEnd()) ?? Data()
        guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { return counts }
        offset += UInt64(lastNewline - data.startIndex + 1)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        for line in data[data.startIndex...lastNewline].split(separator: UInt8(ascii: "\n")) {
            guard let entry = try? decoder.decode(AuditEntry.self, from: Data(line)), entry.outcome == "ok", entry.action == "rotate",
                  let modem = entry.modem, Self.dayNumber(entry.time) == today else { continue }
            counts[modem, default: 0] += 1
        }
        return counts
    }

    private static func dayNumber(_ date: Date) -> Int {
        let parts = Calendar.current.dateComponents([.year, .month, .day], from: date)
        return (parts.year ?? 0) * 10_000 + (parts.month ?? 0) * 100 + (parts.day ?? 0)
    }
}
