import Foundation
import Reconciler

/// Prints a plan the way Terraform does: one block per modem, a symbol per action
/// (`+` add, `~` change, `-` remove, `!` restart/rotate/reset) and a summary line.
enum PlanPrinter {
    struct Counts: Encodable, Equatable {
        var add = 0, change = 0, remove = 0, restart = 0
    }

    static func counts(_ plan: Plan) -> Counts {
        var counts = Counts()
        for action in plan.actions {
            switch action.kind.symbol {
            case "+": counts.add += 1
            case "~": counts.change += 1
            case "-": counts.remove += 1
            default: counts.restart += 1
            }
        }
        return counts
    }

    static func summary(_ plan: Plan) -> String {
        let c = counts(plan)
        return "Plan: \(c.add) to add, \(c.change) to change, \(c.remove) to remove, \(c.restart) to restart."
    }

    static func text(_ plan: Plan, colour: Bool) -> String {
        var out = ""
        for (modem, actions) in plan.lanes {
            out += (modem ?? "not owned by any modem") + ":\n"
            for action in actions {
                let symbol = String(action.kind.symbol)
                out += "  " + paint(symbol, colour: colour) + " " + action.kind.summary + " — " + action.reason + "\n"
            }
            out += "\n"
        }
        for (modem, why) in plan.deferred.sorted(by: { $0.key < $1.key }) {
            out += "\(modem): waiting — \(why)\n"
        }
        if !plan.deferred.isEmpty { out += "\n" }
        for (modem, why) in plan.blocked.sorted(by: { $0.key < $1.key }) {
            out += "\(modem): not ready — \(why)\n"
        }
        if !plan.blocked.isEmpty { out += "\n" }
        out += plan.isEmpty ? (plan.blocked.isEmpty ? "No changes. The farm matches farm.yaml.\n" : "No changes, but the modems above cannot become Ready.\n")
            : summary(plan) + "\n"
        return out
    }

    private static func paint(_ symbol: String, colour: Bool) -> String {
        guard colour else { return symbol }
        let code = switch symbol {
        case "+": "32"
        case "~": "33"
        case "-": "31"
        default: "35"
        }
        return "\u{1B}[\(code)m\(symbol)\u{1B}[0m"
    }

    struct JSONPlan: Encodable {
        struct Action: Encodable {
            var modem: String?
            var action: String
            var symbol: String
            var summary: String
            var reason: String
        }
        var revision: String
        var actions: [Action]
        var deferred: [String: String]
        var blocked: [String: String]
        var counts: Counts
    }

    static func json(_ plan: Plan, revision: String) throws -> String {
        let value = JSONPlan(
            revision: revision,
            actions: plan.actions.map { .init(modem: $0.modem, action: $0.kind.name, symbol: String($0.kind.symbol), summary: $0.kind.summary, reason: $0.reason) },
            deferred: plan.deferred, blocked: plan.blocked, counts: counts(plan))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
