/// An IPv4 address as the 32-bit number QMI carries (host order, little-endian on the wire).
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII),
                  let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// The subnet a modem's carrier hands addresses out of: the gateway is the first host,
/// subscribers get the following hosts in turn, wrapping before the broadcast address.
public struct AddressPool: Sendable, Equatable, CustomStringConvertible {
    public var network: IPv4Address
    public var prefixLength: Int

    public init(network: IPv4Address, prefixLength: Int) {
        let clamped = min(max(prefixLength, 0), 30)
        self.prefixLength = clamped
        self.network = IPv4Address(value: network.value & Self.mask(clamped))
    }

    /// Parses `100.64.1.0/24`; nil unless the prefix leaves room for a gateway and a subscriber.
    public init?(cidr: String) {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let address = IPv4Address(String(parts[0])),
              let prefix = Int(parts[1]), (8...30).contains(prefix) else { return nil }
        self.init(network: address, prefixLength: prefix)
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public var subnetMask: IPv4Address { IPv4Address(value: Self.mask(prefixLength)) }
    public var gateway: IPv4Address { IPv4Address(value: network.value + 1) }

    /// Number of addresses subscribers can get (all hosts but the gateway).
    var subscriberCount: UInt32 { (UInt32(1) << UInt32(32 - prefixLength)) - 3 }

    /// The `index`-th subscriber address (0-based, wrapping), starting right after the gateway.
    func subscriber(_ index: UInt32) -> IPv4Address {
        IPv4Address(value: network.value + 2 + index % subscriberCount)
    }

    private static func mask(_ prefix: Int) -> UInt32 {
        prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
    }
}
