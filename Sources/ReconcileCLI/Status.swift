import ArgumentParser
import Foundation
import Gateway
import Reconciler

/// `reconcile status`: the farm as the last pass left it, from status/farm.json and
/// status/modems/*.json (it takes no lock, so it works beside a running daemon).
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the farm and every modem from the status files (--output json for machines).",
        discussion: """
            On a gateway's state directory it shows the entry ports. --farm (on the gateway, or anywhere that reaches \
            the hosts): every host's modems in one table, read from each host's `reconcile serve` (GET /v1/status with \
            farm.yaml's api token). Exit codes of --farm: 0 every host answered and every modem is Ready; 1 invalid \
            input; 3 a host did not answer or a modem is not Ready.
            """)

    @OptionGroup var options: RootOptions

    @Flag(help: "Every host's modems in one table, from each host's /v1/status (multi-host farms).")
    var farm = false

    func run() async throws {
        if farm { throw ExitCode(try await FarmWideStatus(options: options).run()) }
        let store = try StateStore(root: options.absoluteStateDirectory, locking: false)
        let report: StatusReport
        do {
            let pull = try PullRecord.load(fromState: store.root)
            guard let farm = try store.readFarmStatus() else {
                if let gateway = try GatewayStore(root: store.root, creating: false).loadStatus() {
                    print(try GatewayPrinter.status(gateway, output: options.output), terminator: "")
                    if let problem = pull?.problem(describing: { StatusReport.moment($0, now: Date()) }), options.output == .text { print(problem) }
                    return
                }
                printError("reconcile: no status in \(store.statusDirectory): run `reconcile` or `reconcile daemon` with --state \(options.stateDirectory) first")
                throw ExitCode(1)
            }
            report = StatusReport(farm: farm, modems: try store.statusNames().compactMap { name throws(StateError) in try store.readModemStatus(name) },
                                  pull: pull)
        } catch let error as StateError {
            printError("reconcile: error: \(error.message)")
            throw ExitCode(1)
        }
        switch options.output {
        case .text: print(report.table(now: Date()), terminator: "")
        case .json: print(try report.json())
        }
    }
}

/// farm.json and the modems' status files, as `reconcile status` shows them.
struct StatusReport: Encodable {
    var farm: FarmStatus
    var modems: [ModemStatus]
    /// The last `reconcile pull`, when one has run on this state directory.
    var pull: PullRecord? = nil

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The farm line, any farm.yaml errors, then one row per modem.
    func table(now: Date) -> String {
        let counts = farm.phases.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let revision = farm.specRevision.isEmpty ? "none" : Revision.short(farm.specRevision)
        var text = "farm: revision \(revision), last pass \(Self.ago(farm.lastPass, now: now)) "
            + "(\(String(format: "%.1f", farm.lastPassSeconds))s, \(farm.converged ? "converged" : "not converged")), "
            + "\(farm.modems) modem\(farm.modems == 1 ? "" : "s")\(counts.isEmpty ? "" : ": " + counts)\n"
        if let errors = farm.specErrors, !errors.isEmpty {
            text += farm.specRevision.isEmpty ? "farm.yaml is invalid and no valid version has been applied yet:\n"
                : "farm.yaml is invalid; the daemon keeps revision \(revision) in force:\n"
            text += errors.map { "  " + $0 + "\n" }.joined()
        }
        if let problem = pull?.problem(describing: { Self.moment($0, now: now) }) { text += problem + "\n" }
        guard !modems.isEmpty else { return text }
        let header = ["NAME", "PHASE", "IP", "SIGNAL", "OPERATOR", "PORTS", "LAST ROTATION"]
        let rows = modems.map { modem -> [String] in
            [modem.name, modem.phase.rawValue, modem.ip ?? "-", modem.signal?.rsrp.map { "\($0) dBm" } ?? "-",
             [modem.operatorName, modem.radioTechnology].compactMap { $0 }.joined(separator: " ").nonEmpty ?? "-",
             "\(modem.httpPort.map(String.init) ?? "-")/\(modem.socksPort.map(String.init) ?? "-")",
             modem.rotation.last.map { Self.ago($0, now: now) + (modem.rotation.lastKeptSameAddress == true ? " (same IP)" : "") } ?? "never"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        text += "\n" + ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }.joined()
        return text + quotaLines()
    }

    /// One line per user with a quota on a modem; a user over quota says so first.
    func quotaLines() -> String {
        let lines = modems.flatMap { modem in
            (modem.users ?? []).compactMap { user -> String? in
                guard let quota = user.quota, let used = user.quotaUsedBytes else { return nil }
                let state = user.overQuota == true ? "OVER QUOTA, refused by its proxy until the period ends" : "\(Self.mebibytes(user.quotaRemainingBytes ?? 0)) left"
                return "  \(modem.name) \(user.name): \(Self.mebibytes(used)) of \(quota) used; \(state)\n"
            }
        }
        return lines.isEmpty ? "" : "\nquotas (as the proxies counted up to a minute ago):\n" + lines.joined()
    }

    static func mebibytes(_ bytes: UInt64) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }

    /// `2026-11-30T06:40:12Z (4m ago)`: when something began, for a line that stays true a while.
    static func moment(_ date: Date, now: Date) -> String {
        ISO8601DateFormatter().string(from: date) + " (" + ago(date, now: now) + ")"
    }

    /// `4m ago`, `just now`.
    static func ago(_ date: Date, now: Date) -> String {
        let seconds = Int64(now.timeIntervalSince(date))
        return seconds < 1 ? "just now" : StatusLine.approximate(.seconds(seconds)) + " ago"
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
