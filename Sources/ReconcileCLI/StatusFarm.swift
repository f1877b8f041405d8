import Drivers
import Foundation
import Gateway
import Reconciler
import Spec

/// `reconcile status --farm` (DESIGN §9): every host's modems in one table, each host's part read
/// from its `reconcile serve` (`GET /v1/status` at the host's address and api.listen's port, with
/// the api token). A host that does not answer is a row saying so, and a modem farm.yaml puts on a
/// host that the host does not report is a row too: nothing goes silently missing.
struct FarmWideStatus {
    let options: RootOptions
    static let timeout = Duration.seconds(5)

    struct HostPart: Encodable {
        var name: String
        var address: String
        /// Why the host's status could not be read; nil when it answered.
        var error: String?
        var revision: String?
        var modems: [Row]
    }

    struct Row: Encodable {
        var name: String
        var phase: String
        var ip: String?
        var reason: String?
        var entry: EntryAllocations.Ports?
    }

    struct Answer: Decodable {
        var farm: FarmStatus
        var modems: [ModemStatus]
    }

    /// Prints the table (or JSON) and returns the exit code: 0 all answered and Ready, 3 otherwise.
    func run() async throws -> Int32 {
        let (_, spec) = try FarmLocation.load(options.file)
        guard !spec.hosts.isEmpty, let api = spec.api else {
            printError("reconcile: error: status --farm needs a farm of several hosts: farm.yaml has no hosts: and api: (docs/multi-host.md)")
            return 1
        }
        let token: String
        switch secretResolver(relativeTo: options.file)(api.token) {
        case .success(let value): token = value
        case .failure(let error):
            printError("reconcile: error: api.token: \(error.message)")
            return 1
        }
        // The gateway's entry ports, when this is the gateway's state directory.
        let entries = (try? GatewayStore(root: options.absoluteStateDirectory, creating: false).loadStatus())?
            .map { Dictionary($0.modems.map { ($0.name, $0.entry) }, uniquingKeysWith: { first, _ in first }) } ?? [:]
        let parts = await withTaskGroup(of: (Int, HostPart).self) { group in
            for (index, host) in spec.hosts.enumerated() {
                group.addTask {
                    let expected = spec.modems.filter { $0.host == host.name }.map(\.name)
                    let answer = await HostStatusClient.fetch(address: host.address, port: api.listen.port, token: token, timeout: Self.timeout)
                    return (index, Self.part(host, answer: answer, expected: expected, entries: entries))
                }
            }
            var parts: [(Int, HostPart)] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.map(\.1)
        }
        switch options.output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(["hosts": parts]), as: UTF8.self))
        case .text:
            print(Self.table(parts), terminator: "")
        }
        let healthy = parts.allSatisfy { $0.error == nil && $0.modems.allSatisfy { $0.phase == Phase.ready.rawValue } }
        return healthy ? 0 : 3
    }

    static func part(_ host: HostSpec, answer: Result<Data, HostStatusError>, expected: [String],
                     entries: [String: EntryAllocations.Ports]) -> HostPart {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let report: Answer
        switch answer {
        case .failure(let error):
            return HostPart(name: host.name, address: host.address, error: "unreachable: \(error.reason)",
                            modems: expected.map { Row(name: $0, phase: "Unknown", reason: "host did not answer", entry: entries[$0]) })
        case .success(let data):
            do {
                report = try decoder.decode(Answer.self, from: data)
            } catch {
                return HostPart(name: host.name, address: host.address, error: "unreadable /v1/status: \(error)",
                                modems: expected.map { Row(name: $0, phase: "Unknown", reason: "host's status unreadable", entry: entries[$0]) })
            }
        }
        var rows = report.modems.map { Row(name: $0.name, phase: $0.phase.rawValue, ip: $0.ip, reason: $0.reason, entry: entries[$0.name]) }
        for missing in expected where !rows.contains(where: { $0.name == missing }) {
            rows.append(Row(name: missing, phase: "Unknown", reason: "farm.yaml puts it on \(host.name), whose status does not show it", entry: entries[missing]))
        }
        return HostPart(name: host.name, address: host.address, revision: report.farm.specRevision, modems: rows)
    }

    static func table(_ parts: [HostPart]) -> String {
        var rows: [[String]] = []
        for part in parts {
            if let error = part.error { rows.append([part.name, "-", "-", "-", "-", error]) }
            for modem in part.modems {
                rows.append([part.name, modem.name, modem.phase, modem.ip ?? "-",
                             modem.entry.map { "\($0.http)/\($0.socks)" } ?? "-", modem.reason ?? ""])
            }
        }
        let header = ["HOST", "MODEM", "PHASE", "IP", "ENTRY", "NOTE"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces) + "\n"
        }.joined()
    }
}
