import Foundation

/// An IPv4 or IPv6 literal, parsed by the C library like 3proxy and the kernel do.
struct IPAddress: Sendable, Equatable {
    var bytes: [UInt8]

    init?(_ text: String) {
        if let v4 = Self.parse(text, family: AF_INET, size: 4) {
            bytes = v4
        } else if let v6 = Self.parse(text, family: AF_INET6, size: 16) {
            bytes = v6
        } else {
            return nil
        }
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    var maxPrefixLength: Int { bytes.count * 8 }

    /// Canonical text (`inet_ntop`), e.g. `2001:db8::` for `2001:0db8:0::`.
    var text: String {
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    /// The address with every bit after `prefixLength` cleared.
    func masked(to prefixLength: Int) -> IPAddress {
        IPAddress(bytes: bytes.enumerated().map { index, byte in
            let keep = min(max(prefixLength - index * 8, 0), 8)
            return keep == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        })
    }

    private static func parse(_ text: String, family: Int32, size: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: size)
        let result = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return result == 1 ? buffer : nil
    }
}

extension CIDR {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a single address (a /32 or /128 network).
    static func parse(_ text: String) -> Result<CIDR, FormatProblem> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else {
            return .failure(FormatProblem("'\(text)' is not a network such as 192.168.1.0/24 or 2001:db8::/32"))
        }
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...address.maxPrefixLength).contains(parsed),
                  parts[1].allSatisfy(\.isASCII) else {
                return .failure(FormatProblem("'\(text)' has a prefix length outside 0-\(address.maxPrefixLength)"))
            }
            length = parsed
        } else {
            length = address.maxPrefixLength
        }
        let network = address.masked(to: length)
        guard network == address else {
            return .failure(FormatProblem("'\(text)' has host bits set; did you mean '\(network.text)/\(length)'?"))
        }
        return .success(CIDR(address: network.text, prefixLength: length))
    }
}
