import Foundation
import Gateway

/// The gateway's plan and status as text tables or JSON.
enum GatewayPrinter {
    static func plan(_ plan: GatewayReconciler.Plan, output: RootOptions.Output) throws -> String {
        switch output {
        case .json:
            struct Route: Encodable {
                var modem, service, host: String
                var entry: Int
                var target: String
            }
            struct Plan: Encodable {
                var action: String?
                var routes: [Route]
            }
            let routes = plan.desired.routes.map {
                Route(modem: $0.modem, service: $0.service.rawValue, host: $0.host, entry: $0.entryPort, target: "\($0.hostAddress):\($0.proxyPort)")
            }
            return try json(Plan(action: plan.action?.description, routes: routes))
        case .text:
            let rows = plan.desired.routes.map { [$0.modem, $0.service.rawValue, String($0.entryPort), $0.host, "\($0.hostAddress):\($0.proxyPort)"] }
            return (plan.action.map { "Plan: \($0)\n" } ?? "No changes: HAProxy matches farm.yaml.\n")
                + table(["MODEM", "SERVICE", "ENTRY", "HOST", "TARGET"], rows)
        }
    }

    static func status(_ status: GatewayStatus, output: RootOptions.Output) throws -> String {
        switch output {
        case .json: return try json(status)
        case .text:
            let rows = status.modems.map { modem in
                [modem.name, modem.host, String(modem.entry.http), String(modem.entry.socks),
                 modem.state.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")]
            }
            return "Revision \(status.revision)" + (status.error.map { "; last change refused: \($0)" } ?? "") + "\n"
                + table(["MODEM", "HOST", "HTTP", "SOCKS", "HAPROXY"], rows)
        }
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    private static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}
