/// Tells, without revealing any secret, why a proxy's config on disk differs from the wanted one:
/// compares the `users` entries of the two texts user by user.
enum ProxyConfigDiff {
    static func reason(current: String?, wanted: String) -> String? {
        guard let current else { return "no config yet" }
        guard current != wanted else { return nil }
        let old = users(in: current)
        let new = users(in: wanted)
        var parts: [String] = []
        let changed = new.keys.filter { old[$0] != nil && old[$0] != new[$0] }.sorted()
        parts += changed.map { "user \($0)'s password changed" }
        let added = new.keys.filter { old[$0] == nil }.sorted()
        if !added.isEmpty { parts.append("user\(added.count > 1 ? "s" : "") \(added.joined(separator: ", ")) added") }
        let removed = old.keys.filter { new[$0] == nil }.sorted()
        if !removed.isEmpty { parts.append("user\(removed.count > 1 ? "s" : "") \(removed.joined(separator: ", ")) removed") }
        let (oldQuotas, newQuotas) = (quotas(in: current), quotas(in: wanted))
        parts += new.keys.filter { old[$0] != nil && oldQuotas[$0] != newQuotas[$0] }.sorted().map { "user \($0)'s quota changed" }
        let otherLines = { (text: String) in
            text.split(separator: "\n").filter { !$0.hasPrefix("users ") && !$0.hasPrefix("countall ") }
        }
        // The allow and bandwidth lines name the users, so they follow any change of the user set.
        if added.isEmpty, removed.isEmpty, otherLines(current) != otherLines(wanted) { parts.append("settings changed") }
        return parts.isEmpty ? "users reordered" : parts.joined(separator: "; ")
    }

    /// Users whose open connections a reload ends: 3proxy re-checks every open connection against
    /// the new users table, so a user whose entry changed or went is cut off (shared/docs/3proxy.md).
    static func droppedUsers(current: String?, wanted: String) -> [String] {
        guard let current else { return [] }
        let old = users(in: current)
        let new = users(in: wanted)
        return old.keys.filter { new[$0] != old[$0] }.sorted()
    }

    /// User name → its whole `name:TYPE:secret` entry, from the `users` line(s).
    static func users(in config: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in config.split(separator: "\n") where line.hasPrefix("users ") {
            for entry in quotedValues(line.dropFirst("users ".count)) {
                guard let colon = entry.firstIndex(of: ":") else { continue }
                result[String(entry[..<colon])] = entry
            }
        }
        return result
    }

    /// User name → its quota rule without the rule number (`countall N PERIOD MB name`).
    static func quotas(in config: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in config.split(separator: "\n") where line.hasPrefix("countall ") {
            let words = line.split(separator: " ")
            if words.count == 5 { result[String(words[4])] = words[2...3].joined(separator: " ") }
        }
        return result
    }

    /// Splits 3proxy's words: `"a""b" c` → [`a"b`, `c`].
    static func quotedValues(_ text: Substring) -> [String] {
        var values: [String] = []
        var current = ""
        var inQuotes = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "\"" {
                if inQuotes, next < text.endIndex, text[next] == "\"" {
                    current.append("\"")
                    index = text.index(after: next)
                    continue
                }
                inQuotes.toggle()
            } else if character == " ", !inQuotes {
                if !current.isEmpty { values.append(current) }
                current = ""
            } else {
                current.append(character)
            }
            index = next
        }
        if !current.isEmpty { values.append(current) }
        return values
    }
}
