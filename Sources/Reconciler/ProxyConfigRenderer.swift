import Foundation
import Spec

/// Renders one modem's 3proxy configuration (see shared/docs/3proxy.md for why the order matters).
///
/// The output is deterministic — the same input gives the same bytes — so an unchanged config is
/// never rewritten and never reloads a proxy. Values are validated by the Spec loader; quoting here
/// is the second line of defence, never the first.
public enum ProxyConfigRenderer {
    /// 3proxy's own defaults, spelled out so a future 3proxy cannot change them under us.
    static let timeouts = "1 5 30 60 180 1800 15 60 15 5 5"
    /// Dated log files kept per modem, the current one included.
    static let logFilesKept = 7

    public static func render(_ input: ProxyConfigInput) -> String {
        var lines = ["# ProxyFarm: 3proxy for modem \(input.modem). Generated; edits are overwritten."]
        // Resolver and logging are global: set before anything that may resolve or log.
        lines += input.dns.map { "nserver \($0)" }
        if !input.dns.isEmpty { lines.append("nscache 65536") }
        lines.append("timeouts \(timeouts)")
        lines.append("log \(quoted(input.logDirectory + "/3proxy.log")) D")
        lines.append("rotate \(logFilesKept)")
        // One user per line: 3proxy reads a config line with a 64 KiB buffer (a longer line is cut
        // and breaks the parse) and takes at most 4094 words of it, so one line for all users would
        // not hold a big farm; `users` lines add up.
        lines += input.users.map { "users " + quoted(entry(for: $0)) }
        // Bandwidth rules are global and looked up per request: one rule per user gives each their own limit.
        for user in input.users {
            if let limit = input.bandwidth.inBitsPerSecond { lines.append("bandlimin \(limit) \(user.name)") }
            if let limit = input.bandwidth.outBitsPerSecond { lines.append("bandlimout \(limit) \(user.name)") }
        }
        lines += countLines(input)
        // A service copies the auth, ACL and maxconn in force when it is read: all three come first.
        lines.append("auth strong")
        lines.append("maxconn \(input.maxConnections)")
        lines += allowLines(input)
        if let port = input.httpPort { lines.append("proxy -p\(port) -i\(input.listen) -a") }
        if let port = input.socksPort { lines.append("socks -p\(port) -i\(input.listen)") }
        lines.append("flush")
        // Privileges drop after the listeners are open; the routing rule for this uid steers egress.
        lines.append("setgid \(input.uid)")
        lines.append("setuid \(input.uid)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per user × client networks (one per user for the same line limits as `users`). A
    /// non-empty ACL ends in 3proxy's implicit deny (407), which also refuses any authenticated user
    /// who is not on this modem. No users: no one can authenticate, so there is nothing to allow.
    static func allowLines(_ input: ProxyConfigInput) -> [String] {
        let sources = input.allow.isEmpty ? "*" : input.allow.map(\.description).joined(separator: ",")
        return input.users.map { "allow \($0.name) \(sources)" }
    }

    /// 3proxy's own accounting, global like the bandwidth rules: per user a count of bytes in and
    /// one of bytes out that never reset (their limit is out of reach: 3proxy needs one), and with
    /// a quota a count of both that 3proxy resets each period and refuses the user at. The quota's
    /// rule comes last: of several matching rules, the last sets how much a session may still move.
    static func countLines(_ input: ProxyConfigInput) -> [String] {
        guard !input.users.isEmpty else { return [] }
        var lines = ["counter \(quoted(input.counterFile))"]
        for user in input.users {
            lines.append("countin \(user.counters.receive) N \(countOnlyMegabytes) \(user.name)")
            lines.append("countout \(user.counters.transmit) N \(countOnlyMegabytes) \(user.name)")
            if let quota = user.quota {
                lines.append("countall \(user.counters.quota) \(quota.period.threeProxyLetter) \(quota.megabytes) \(user.name)")
            }
        }
        return lines
    }

    /// The numbers of the counts in a rendered config that 3proxy starts again each period (a
    /// quota's `countall N D|W|M …`), for `ProxyCounters.periodStarts`.
    public static func periodicCountNumbers(in config: String) -> [Int] {
        config.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ", maxSplits: 3)
            guard words.count == 4, ["countin", "countout", "countall"].contains(words[0]),
                  let letter = words[2].first, "CHDWMY".contains(letter.uppercased()) else { return nil }
            return Int(words[1])
        }
    }

    /// 2^40 MiB = 1 EiB: a limit no count reaches, well inside 3proxy's 64-bit byte count.
    static let countOnlyMegabytes: UInt64 = 1 << 40

    static func entry(for user: ProxyConfigInput.ProxyUser) -> String {
        switch user.credential {
        case .clear(let password): "\(user.name):CL:\(password)"
        case .hash(let hash): "\(user.name):CR:\(hash)"
        }
    }

    /// 3proxy quoting: the whole value in double quotes, a literal quote doubled.
    static func quoted(_ value: String) -> String {
        guard value.utf8.contains(UInt8(ascii: "\"")) else { return "\"" + value + "\"" }
        var quoted = "\""
        for character in value {
            if character == "\"" { quoted.append("\"") }
            quoted.append(character)
        }
        return quoted + "\""
    }
}
