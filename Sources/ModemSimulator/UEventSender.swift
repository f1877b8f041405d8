import Glibc

/// Announces devices the way udevd does after processing a kernel uevent: a libudev message
/// (the `libudev` header, then the properties) multicast on `NETLINK_KOBJECT_UEVENT` group 2,
/// which every `udev_monitor_new_from_netlink(udev, "udev")` in the same network namespace
/// receives. The header carries the subsystem and devtype hashes that libudev's in-kernel
/// socket filter compares, so subscribers with subsystem filters get exactly their devices.
final class UEventSender: @unchecked Sendable {
    private let socket: Int32
    private var sequenceNumber: UInt64 = 0

    /// `NETLINK_KOBJECT_UEVENT` and udev's multicast group (the kernel's own is 1).
    private static let netlinkUEvent: Int32 = 15
    private static let udevGroup: UInt32 = 2
    /// `UDEV_MONITOR_MAGIC`, and the size of `struct monitor_netlink_header`.
    private static let magic: UInt32 = 0xfeed_cafe
    private static let headerSize = 40

    init() throws(TestbedError) {
        socket = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Self.netlinkUEvent)
        guard socket >= 0 else { throw TestbedError("netlink uevent socket: \(String(cString: strerror(errno)))") }
    }

    deinit { close(socket) }

    /// Sends one event for `device`; `action` is `add`, `remove`, `change`…
    func send(_ action: String, _ device: DeviceDescription) throws(TestbedError) {
        sequenceNumber += 1
        var properties = [("ACTION", action), ("DEVPATH", device.path)]
        properties += device.properties.filter { $0.key != "DEVPATH" }.map { ($0.key, $0.value) }
        properties.append(("SEQNUM", String(sequenceNumber)))
        let body: [UInt8] = properties.flatMap { Array("\($0.0)=\($0.1)".utf8) + [0] }
        var message = Array("libudev".utf8) + [0]
        message += Self.bigEndian(Self.magic)
        message += Self.littleEndian(UInt32(Self.headerSize)) + Self.littleEndian(UInt32(Self.headerSize))
        message += Self.littleEndian(UInt32(body.count))
        message += Self.bigEndian(device.subsystem.map(Self.hash) ?? 0)
        message += Self.bigEndian(device.property("DEVTYPE").map(Self.hash) ?? 0)
        message += Self.bigEndian(0) + Self.bigEndian(0)  // no tags: an empty tag bloom filter
        message += body
        // struct sockaddr_nl: family, padding, port id 0 (the kernel), groups.
        var address = [UInt8](repeating: 0, count: 12)
        address.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt16(AF_NETLINK), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: Self.udevGroup, toByteOffset: 8, as: UInt32.self)
        }
        let sent = message.withUnsafeBytes { bytes in
            address.withUnsafeBytes { raw in
                sendto(socket, bytes.baseAddress, bytes.count, 0, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
        }
        guard sent == message.count else { throw TestbedError("sending the \(action) uevent of \(device.path): \(String(cString: strerror(errno)))") }
    }

    /// systemd's `string_hash32`: MurmurHash2 of the bytes with seed 0, words read little-endian.
    static func hash(_ string: String) -> UInt32 {
        let bytes = Array(string.utf8)
        let m: UInt32 = 0x5bd1_e995
        var h = UInt32(truncatingIfNeeded: bytes.count)
        var index = 0
        while bytes.count - index >= 4 {
            var k = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
            k = k &* m
            k ^= k >> 24
            k = k &* m
            h = (h &* m) ^ k
            index += 4
        }
        let rest = bytes.count - index
        if rest == 3 { h ^= UInt32(bytes[index + 2]) << 16 }
        if rest >= 2 { h ^= UInt32(bytes[index + 1]) << 8 }
        if rest >= 1 {
            h ^= UInt32(bytes[index])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return h
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    private static func littleEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
}
