import Foundation
import Reconciler
import Spec

/// The dashboard's HTML. The server renders the whole farm as a plain table, which is what a
/// browser without JavaScript shows; dashboard.js turns it into cards and keeps them live.
enum DashboardPage {
    static func logIn() -> String {
        page(body: """
            <main class="login">
            <h1>ProxyFarm</h1>
            <form method="post" action="/login">
            <label for="token">Operator token (api.token in farm.yaml)</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required>
            <button type="submit">Log in</button>
            </form>
            </main>
            """)
    }

    /// The farm as a table under its summary; without status files yet, the reason instead of the
    /// summary and no rows (the script fills them in once the daemon has written them).
    static func render(_ report: Result<FarmReport, APIError>, now: Date) -> String {
        let (summaryText, rows) = switch report {
        case .success(let report): (summary(report), report.modems.map { row($0, now: now) }.joined(separator: "\n"))
        case .failure(let error): (error.message, "")
        }
        return page(body: """
            <header><h1>ProxyFarm</h1><p id="summary">\(escape(summaryText))</p><p id="notice" role="status"></p></header>
            <main>
            <div id="cards" class="cards" hidden></div>
            <table id="modems-table">
            <thead><tr><th>Modem</th><th>Phase</th><th>Reason</th><th>Public IP</th><th>Signal</th><th>Operator</th><th>Ready for</th><th>Last rotation</th><th>Rotations today</th><th>Traffic</th><th>Users</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            </main>
            <script src="/static/dashboard.js"></script>
            """)
    }

    /// `4 modems: 3 Ready, 1 Missing · daemon running · last pass 2026-…`; dashboard.js says the same.
    static func summary(_ report: FarmReport) -> String {
        let phases = Phase.allCases.compactMap { phase in
            (report.farm.phases[phase.rawValue] ?? 0) > 0 ? "\(report.farm.phases[phase.rawValue] ?? 0) \(phase.rawValue)" : nil
        }
        let modems = "\(report.farm.modems) modem\(report.farm.modems == 1 ? "" : "s")" + (phases.isEmpty ? "" : ": " + phases.joined(separator: ", "))
        let daemon = report.daemon.running ? "daemon running" : "no daemon running"
        return "\(modems) · \(daemon) · last pass \(iso(report.farm.lastPass))"
            + (report.farm.specErrors?.isEmpty == false ? " · farm.yaml is invalid" : "")
    }

    private static func row(_ modem: ModemReport, now: Date) -> String {
        let status = modem.status
        let cells: [String] = [
            status.name, status.phase.rawValue, reason(status), status.publicIP ?? status.ip ?? "-",
            status.signal?.rsrp.map { "\($0) dBm" } ?? "-",
            [status.operatorName, status.radioTechnology].compactMap { $0 }.joined(separator: " "),
            modem.readySince.map { duration(now.timeIntervalSince($0)) } ?? "-",
            status.rotation.last.map(iso) ?? "never", String(modem.rotationsToday), status.traffic.map(traffic) ?? "-",
            users(status.users),
        ]
        return "<tr data-modem=\"\(escape(status.name))\">" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
    }

    /// Why a modem is not Ready: the status file's reason and message (docs/status.md).
    static func reason(_ status: ModemStatus) -> String {
        guard status.phase != .ready else { return "" }
        return [status.reason, status.message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
    }

    /// `1.2 GB down, 45.6 MB up` (decimal units, as carriers bill); dashboard.js says the same.
    static func traffic(_ bytes: ByteCounts) -> String {
        "\(amount(bytes.receive)) down, \(amount(bytes.transmit)) up"
    }

    /// `alice 1.2 GB, bob 95 % of 1GB per day, carol over quota (1MB per day)`: what each user
    /// moved through this modem's proxy, or how much of their quota is used (as 3proxy last wrote
    /// it, up to a minute old); `-` until the proxy wrote its counts. dashboard.js says the same.
    static func users(_ users: [UserTraffic]?) -> String {
        guard let users, !users.isEmpty else { return "-" }
        return users.map { user in
            guard let quota = user.quota, let limit = user.quotaBytes, limit > 0 else { return "\(user.name) \(amount(user.receive + user.transmit))" }
            if user.overQuota == true { return "\(user.name) over quota (\(quota))" }
            return "\(user.name) \(Int(Double(user.quotaUsedBytes ?? 0) * 100 / Double(limit))) % of \(quota)"
        }.joined(separator: ", ")
    }

    static func amount(_ bytes: UInt64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds))
        if total >= 86_400 { return "\(total / 86_400)d \(total % 86_400 / 3600)h" }
        if total >= 3600 { return "\(total / 3600)h \(total % 3600 / 60)m" }
        if total >= 60 { return "\(total / 60)m \(total % 60)s" }
        return "\(total)s"
    }

    private static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    private static func page(body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>ProxyFarm</title>
        <link rel="stylesheet" href="/static/dashboard.css">
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    static func escape(_ text: String) -> String {
        PlainText.escaping(text, ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"])
    }
}
