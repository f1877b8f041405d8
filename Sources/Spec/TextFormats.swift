import Foundation

/// A value parsed from farm.yaml text, after its format was checked.
enum Scalar: Sendable, Equatable {
    case text(String)
    case integer(Int)
    case boolean(Bool)
    case duration(Duration)
    case bitsPerSecond(Int)
    case quota(Quota)
    case time(TimeOfDay)
    case cidr(CIDR)
    case portRange(ClosedRange<Int>)
}

/// The formats of farm.yaml's text values. `pattern` is the JSON Schema's regular expression and
/// also the validator's first check, so both agree on what is well-formed.
enum TextFormat: Sendable, CaseIterable {
    case name, userName, serial, apn, ipType, ipAddress, listenAddress, cidr, duration, bandwidth, quota, timeOfDay, portRange, url
    case cryptHash, envName, filePath, secretText

    var pattern: String? {
        switch self {
        case .name: "^[a-z0-9][a-z0-9_-]{0,31}$"
        case .userName: "^[A-Za-z0-9._-]{1,64}$"
        case .serial: "^[A-Za-z0-9._:-]{1,64}$"
        case .apn: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
        case .duration: "^[0-9]{1,7}[smh]$"
        case .bandwidth: "^[0-9]{1,7}(bit|kbit|mbit|gbit)$"
        case .quota: "^[0-9]{1,16}(B|[KMGT]i?B)( per (day|week|month)|/(day|week|month)| total)$"
        case .timeOfDay: "^([01][0-9]|2[0-3]):[0-5][0-9]$"
        case .portRange: "^[0-9]{1,5}-[0-9]{1,5}$"
        case .url: "^https?://[^\\s\"]+$"
        case .cryptHash: "^\\$[13]\\$[^\\s\"]+$"
        case .envName: "^[A-Za-z_][A-Za-z0-9_]*$"
        case .ipType, .ipAddress, .listenAddress, .cidr, .filePath, .secretText: nil
        }
    }

    var allowedWords: [String]? { self == .ipType ? IPType.allCases.map(\.rawValue) : nil }

    var maxLength: Int? { self == .cryptHash ? 63 : nil }

    /// Values of this format are secrets (or secret-derived) and never appear in a diagnostic.
    var isSecret: Bool { self == .secretText || self == .cryptHash }

    var expectation: String {
        switch self {
        case .name: "a name of 1-32 characters a-z, 0-9, '_', '-' starting with a letter or digit"
        case .userName: "a user name of letters, digits, '.', '_', '-'"
        case .serial: "a serial number (IMEI or USB serial) of letters, digits, '.', '_', ':', '-'"
        case .apn: "an APN of letters, digits, '.', '_', '-'"
        case .ipType: "ipv4, ipv6 or ipv4v6"
        case .ipAddress: "an IP address such as 0.0.0.0 or ::1"
        case .listenAddress: "an IP address and port such as \"127.0.0.1:8080\" or \"[::1]:8080\""
        case .cidr: "a network such as 192.168.1.0/24 (or a single IP address)"
        case .duration: "a duration such as 30s, 10m or 2h"
        case .bandwidth: "a bandwidth such as 500kbit, 20mbit or 1gbit"
        case .quota: "a quota such as \"50GB per month\", 50GB/month, \"2GB per day\" or \"1TB total\" (units B, KB, MB, GB, TB; 1 KB = 1024 B)"
        case .timeOfDay: "a time of day \"HH:MM\" from 00:00 to 23:59, in quotes"
        case .portRange: "a port range FIRST-LAST such as 20000-29999"
        case .url: "an http:// or https:// URL"
        case .cryptHash: "a 3proxy crypt hash $1$... or $3$... of at most 63 characters, in quotes"
        case .envName: "an environment variable name such as PROXY_PASSWORD"
        case .filePath: "a file path"
        case .secretText: "a non-empty text in quotes"
        }
    }

    var plural: String {
        switch self {
        case .userName: "user names"
        case .ipAddress: "IP addresses"
        case .cidr: "networks such as 192.168.1.0/24"
        case .timeOfDay: "times of day \"HH:MM\" in quotes"
        default: "values: " + expectation
        }
    }

    /// Parses `text`, or says what is wrong with it. The message of a secret format, or of any
    /// value where a secret may be (`secret`), never quotes it.
    func parse(_ text: String, secret: Bool = false) -> Result<Scalar, FormatProblem> {
        let shown = switch self {
        case .cryptHash: "the hash"
        case .secretText: "the value"
        default: secret ? "the value (not shown: it may be a secret)" : "'\(text)'"
        }
        if let pattern, !Self.matches(text, pattern) {
            return .failure(FormatProblem("\(shown) is not \(expectation)" + (secret ? "" : suggestion(for: text))))
        }
        if let maxLength, text.count > maxLength {
            return .failure(FormatProblem("the hash is \(text.count) characters long; 3proxy silently ignores hashes longer than \(maxLength)"))
        }
        switch self {
        case .ipType:
            guard IPType(rawValue: text) != nil else {
                return .failure(FormatProblem("\(shown) is not \(expectation)" + suggestion(for: text)))
            }
            return .success(.text(text))
        case .ipAddress:
            guard IPAddress(text) != nil else {
                return .failure(FormatProblem("\(shown) is not \(expectation) (host and interface names are not allowed here)"))
            }
            return .success(.text(text))
        case .listenAddress:
            guard ListenAddress(text) != nil else { return .failure(FormatProblem("\(shown) is not \(expectation)")) }
            return .success(.text(text))
        case .cidr: return CIDR.parse(text).map(Scalar.cidr)
        case .duration: return Self.parseDuration(text)
        case .bandwidth: return Self.parseBandwidth(text)
        case .quota: return Quota.parse(text).map(Scalar.quota)
        case .timeOfDay:
            let parts = text.split(separator: ":").compactMap { Int($0) }
            return .success(.time(TimeOfDay(hour: parts[0], minute: parts[1])))
        case .portRange: return Self.parsePortRange(text)
        case .url:
            guard WebAddress(text) != nil else {
                return .failure(FormatProblem("\(shown) is not \(expectation) with a host"))
            }
            return .success(.text(text))
        case .filePath, .secretText:
            guard !text.isEmpty, !text.contains("\0" as Character) else {
                return .failure(FormatProblem("expected \(expectation)"))
            }
            return .success(.text(text))
        case .name, .userName, .serial, .apn, .cryptHash, .envName:
            return .success(.text(text))
        }
    }

    /// "did you mean 'm01'?" when only the case is wrong.
    private func suggestion(for text: String) -> String {
        let lowered = text.lowercased()
        guard !isSecret, lowered != text, case .success = parse(lowered) else { return "" }
        return "; did you mean '\(lowered)'?"
    }

    /// Compiled once.
    private static let compiled: [String: Pattern] = Dictionary(
        allCases.compactMap(\.pattern).map { ($0, Pattern($0)) }, uniquingKeysWith: { first, _ in first })

    static func matches(_ text: String, _ pattern: String) -> Bool {
        compiled[pattern]?.matches(text) ?? false
    }

    private static func parseDuration(_ text: String) -> Result<Scalar, FormatProblem> {
        let amount = Int(text.dropLast()) ?? 0
        guard amount > 0 else { return .failure(FormatProblem("'\(text)' must be longer than zero")) }
        let seconds = switch text.last {
        case "h": amount * 3600
        case "m": amount * 60
        default: amount
        }
        return .success(.duration(.seconds(seconds)))
    }

    private static func parseBandwidth(_ text: String) -> Result<Scalar, FormatProblem> {
        let units: [(suffix: String, factor: Int)] = [("kbit", 1_000), ("mbit", 1_000_000), ("gbit", 1_000_000_000), ("bit", 1)]
        guard let unit = units.first(where: { text.hasSuffix($0.suffix) }),
              let amount = Int(text.dropLast(unit.suffix.count)), amount > 0 else {
            return .failure(FormatProblem("'\(text)' must be more than zero"))
        }
        return .success(.bitsPerSecond(amount * unit.factor))
    }

    private static func parsePortRange(_ text: String) -> Result<Scalar, FormatProblem> {
        let bounds = text.split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 2, (1...65535).contains(bounds[0]), (1...65535).contains(bounds[1]) else {
            return .failure(FormatProblem("'\(text)' must lie within 1-65535"))
        }
        guard bounds[0] <= bounds[1] else {
            return .failure(FormatProblem("'\(text)' starts after it ends; did you mean '\(bounds[1])-\(bounds[0])'?"))
        }
        return .success(.portRange(bounds[0]...bounds[1]))
    }
}

struct FormatProblem: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}
