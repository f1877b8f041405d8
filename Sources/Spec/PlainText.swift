/// Path and text operations on the standard library alone. Their Foundation counterparts (NSString's path methods,
/// `trimmingCharacters`, `replacingOccurrences`, `String(format:)`) bridge to swift-corelibs-foundation's NSString and
/// CoreFoundation, whose code would then stay in the long-running daemon's memory for one call.
public enum PlainText {
    /// The directory part of a path, as NSString's `deletingLastPathComponent`: "a/b" → "a", "/b" → "/", "b" → "".
    public static func directory(of path: String) -> String {
        let trimmed = withoutTrailingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        let parent = withoutTrailingSlashes(String(trimmed[..<slash]))
        return parent.isEmpty ? "/" : parent
    }

    /// The last component of a path, as NSString's `lastPathComponent`: "a/b/" → "b", "/" → "/".
    public static func name(of path: String) -> String {
        let trimmed = withoutTrailingSlashes(path)
        guard trimmed != "/", let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    private static func withoutTrailingSlashes(_ path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }

    /// `value` with exactly `digits` decimals, as `String(format: "%.Nf")`: 12.345 → "12.3".
    public static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return "\(value)" }
        let units = Int64(scaled)
        let whole = units / Int64(scale), fraction = String(units % Int64(scale))
        let sign = value.sign == .minus ? "-" : ""
        return sign + "\(whole)" + (digits > 0 ? "." + String(repeating: "0", count: digits - fraction.count) + fraction : "")
    }

    /// `text` with each character that `replacements` names replaced by its replacement (HTML, metrics labels).
    public static func escaping(_ text: String, _ replacements: [Character: String]) -> String {
        var out = ""
        for character in text {
            if let replacement = replacements[character] { out += replacement } else { out.append(character) }
        }
        return out
    }

    /// `value` in base `radix`, left-padded with zeros to `width` digits (`%04o`, `%02x`).
    public static func padded<Value: BinaryInteger>(_ value: Value, radix: Int, width: Int) -> String {
        let digits = String(value, radix: radix)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension StringProtocol {
    /// Without spaces, tabs and line breaks at either end (Foundation's `.whitespacesAndNewlines`).
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
