import Spec

extension ProxyConfigRenderer {
    /// Why `input` cannot be rendered into a file 3proxy reads as meant; empty when it can.
    ///
    /// 3proxy never refuses a bad value out loud: an unvalidated `-i` listens on 0.0.0.0, an unknown
    /// hash type or a `CR` value over 63 characters drops the user silently, a newline inside a
    /// quoted value ends the line (and the rest is parsed as a command, echoing part of the secret
    /// on stderr), and a comma or blank in a user name splits the ACL. So every value is checked
    /// here before it is rendered. Messages name the user, never the secret.
    public static func problems(_ input: ProxyConfigInput) -> [String] { checked(input).problems }

    /// `input` rendered, when it has no `problems`: checked and rendered in one go.
    public static func checked(_ input: ProxyConfigInput) -> (config: String?, problems: [String]) {
        var problems: [String] = []
        if !isSafeName(input.modem) { problems.append("modem name is not a safe 3proxy token") }
        if !isIPv4(input.listen) { problems.append("listen address \(input.listen) is not an IPv4 address") }
        for server in input.dns where !isIPv4(server) {
            problems.append("dns server \(server) is not an IPv4 address")
        }
        for port in input.ports where !(1...65535).contains(port) { problems.append("port \(port) is outside 1-65535") }
        if input.maxConnections < 1 { problems.append("maxConnections must be at least 1") }
        for limit in [input.bandwidth.inBitsPerSecond, input.bandwidth.outBitsPerSecond].compactMap({ $0 }) where limit < 1 {
            problems.append("bandwidth limit \(limit) must be at least 1 bit/s")
        }
        // A `%` makes 3proxy format the log name as a template instead of adding the date.
        if hasLineBreak(input.logDirectory) || input.logDirectory.utf8.contains(UInt8(ascii: "%")) {
            problems.append("log directory must be one line without %")
        }
        for user in input.users {
            guard isSafeName(user.name) else {
                problems.append("user name \(user.name.debugDescription) is not a safe 3proxy token")
                continue
            }
            switch user.credential {
            case .clear(let password):
                if hasLineBreak(password) { problems.append("password of user \(user.name) contains a line break or NUL") }
                let most = ProxyLimits.passwordBytes(user: user.name)
                if password.utf8.count > most {
                    problems.append("password of user \(user.name) is \(password.utf8.count) bytes; 3proxy cuts HTTP Basic's "
                                    + "user:password at \(ProxyLimits.credentialBytes) bytes, so it may have at most \(most)")
                }
            case .hash(let hash):
                if ProxyLimits.passwordBytes(user: user.name) < 1 {
                    problems.append("user name \(user.name) leaves no room for a password in 3proxy's \(ProxyLimits.credentialBytes) bytes")
                }
                if !isSupportedHash(hash) {
                    problems.append("hash of user \(user.name) is not a 3proxy crypt hash ($1$ or $3$, at most 63 characters)")
                }
            }
        }
        guard problems.isEmpty else { return (nil, problems) }
        // Values above keep each line short; this makes sure, whatever the allow list holds.
        let config = render(input)
        for (index, line) in config.utf8.split(separator: UInt8(ascii: "\n")).enumerated() where line.count > ProxyLimits.lineBytes {
            problems.append("config line \(index + 1) would be \(line.count) bytes; 3proxy reads at most \(ProxyLimits.lineBytes)")
        }
        return problems.isEmpty ? (config, []) : (nil, problems)
    }

    /// Names go unquoted into `allow` and `bandlim*` lines and into file names.
    public static func isSafeName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }

    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && part.allSatisfy(\.isASCIIDigit) && (part.count == 1 || part.first != "0")
                && Int(part).map { $0 <= 255 } == true
        }
    }

    static func hasLineBreak(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0 == "\n" || $0 == "\r" || $0 == "\0" }
    }

    static func isSupportedHash(_ hash: String) -> Bool {
        (hash.hasPrefix("$1$") || hash.hasPrefix("$3$")) && hash.count <= 63 && !hasLineBreak(hash)
            && hash.split(separator: "$", omittingEmptySubsequences: false).count == 4
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
