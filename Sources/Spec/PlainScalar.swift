import Yams

/// What a plain (unquoted) YAML scalar is by YAML 1.1's rules, as PyYAML and editors read it: the rules
/// of Yams' default resolver, matched here because Yams matches them with NSRegularExpression (see `Pattern`).
enum PlainScalar {
    /// The rules' sources, in Yams' order (the first that matches decides).
    static let sources = rules.map(\.source)

    private static let rules: [(tag: Tag.Name, source: String, pattern: Pattern)] = ([
        (.bool, "^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
        (.int, "^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"),
        (.float, "^(?:[-+]?(?:[0-9][0-9_]*)(?:\\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
            + "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$"),
        (.merge, "^(?:<<)$"),
        (.null, "^(?:~|null|Null|NULL|)$"),
        (.timestamp, "^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
            + "(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"),
        (.value, "^(?:=)$"),
    ] as [(Tag.Name, String)]).map { ($0.0, $0.1, Pattern($0.1)) }

    static func tag(of text: String) -> Tag.Name {
        rules.first { $0.pattern.matches(text) }?.tag ?? .str
    }

    /// The value of an int-tagged scalar, read as Yams reads it: `_` separators, a sign, 0x / 0b / 0o or 0 (octal)
    /// prefixes, and base-60 `1:30`.
    static func integer(_ text: String) -> Int? {
        let digits = String(text.filter { $0 != "_" })
        let negative = digits.hasPrefix("-")
        let unsigned = negative || digits.hasPrefix("+") ? digits.dropFirst() : Substring(digits)
        let magnitude: Int?
        if digits == "0" {
            magnitude = 0
        } else if let radix = [("0x", 16), ("0b", 2), ("0o", 8), ("0", 8)].first(where: { unsigned.hasPrefix($0.0) }) {
            magnitude = Int(unsigned.dropFirst(radix.0.count), radix: radix.1)
        } else if unsigned.contains(":" as Character) {
            magnitude = unsigned.split(separator: ":").reduce(Int?(0)) { total, part in
                guard let total, let part = Int(part) else { return nil }
                let (shifted, overflowed) = total.multipliedReportingOverflow(by: 60)
                let (sum, carried) = shifted.addingReportingOverflow(part)
                return overflowed || carried ? nil : sum
            }
        } else {
            magnitude = Int(unsigned, radix: 10)
        }
        return magnitude.map { negative ? -$0 : $0 }
    }
}
