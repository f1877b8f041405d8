/// An `http://` or `https://` URL taken apart by hand: scheme, host, port, and the path with its query. Foundation's URL
/// parser hands every host to ICU's IDNA code, whose code and Unicode tables would then stay in the daemon's memory; these
/// URLs (health probes, farm.yaml's links) need none of that.
public struct WebAddress: Sendable, Equatable {
    public var scheme: String
    /// As written: an IPv6 literal keeps its brackets, as in URLComponents.
    public var host: String
    /// The port written after the host, if any.
    public var port: Int?
    /// From the first `/` (or "/" when there is none) up to a `#`, query included, as written.
    public var pathAndQuery: String

    /// `scheme://[user@]host[:port][/path][?query][#fragment]`; nil without a host, or with a port that is not 0-65535.
    public init?(_ text: String) {
        guard let separator = text.firstRange(of: "://") else { return nil }
        scheme = text[..<separator.lowerBound].lowercased()
        let rest = text[separator.upperBound...]
        let authorityEnd = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[...close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty, !scheme.isEmpty else { return nil }
        if let portText, !portText.isEmpty {
            guard portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65535).contains(port) else { return nil }
            self.port = port
        }
        let path = rest[authorityEnd...].prefix { $0 != "#" }
        pathAndQuery = path.hasPrefix("/") ? String(path) : "/" + path
    }
}
