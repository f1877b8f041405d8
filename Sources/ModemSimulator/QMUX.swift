/// QMUX framing and QMI TLV encoding, as libqmi puts them on a cdc-wdm character device.
///
/// A frame is `0x01, length (u16 LE, counts everything after the marker), control flags,
/// service, client id` followed by the service message: CTL uses a 1-byte transaction id,
/// every other service a 2-byte one. All integers are little-endian.
struct QMIMessage: Sendable, Equatable {
    var service: UInt8
    var clientID: UInt8
    var transactionID: UInt16
    var messageID: UInt16
    var tlvs: [TLV]

    func tlv(_ type: UInt8) -> [UInt8]? {
        tlvs.first { $0.type == type }?.value
    }
}

struct TLV: Sendable, Equatable {
    var type: UInt8
    var value: [UInt8]
}

enum QMUX {
    static let marker: UInt8 = 0x01
    static let controlService: UInt8 = 0x00
    /// Control flags of a frame sent by the modem ("service" direction); the host sends 0x00.
    static let fromService: UInt8 = 0x80

    /// Splits complete frames off the front of `buffer`; bytes that cannot start a frame (no
    /// marker, implausible length or control flags) are discarded so one garbled write does not
    /// wedge the stream.
    static func takeFrames(from buffer: inout [UInt8]) -> [QMIMessage] {
        var messages: [QMIMessage] = []
        while true {
            guard let start = buffer.firstIndex(of: marker) else {
                buffer.removeAll()
                return messages
            }
            if start > 0 { buffer.removeFirst(start) }
            guard buffer.count >= 4 else { return messages }
            let length = Int(buffer[1]) | Int(buffer[2]) << 8
            guard length >= 5, buffer[3] & ~fromService == 0 else {
                buffer.removeFirst()
                continue
            }
            guard buffer.count >= length + 1 else { return messages }
            let frame = Array(buffer[0...length])
            buffer.removeFirst(length + 1)
            if let message = decode(frame) { messages.append(message) }
        }
    }

    /// Decodes one whole frame; nil when the message inside is malformed.
    static func decode(_ frame: [UInt8]) -> QMIMessage? {
        var reader = ByteReader(frame)
        guard reader.u8() == marker, reader.u16() != nil, reader.u8() != nil,
              let service = reader.u8(), let clientID = reader.u8(), reader.u8() != nil
        else { return nil }
        let transaction: UInt16?
        if service == controlService {
            transaction = reader.u8().map(UInt16.init)
        } else {
            transaction = reader.u16()
        }
        guard let transactionID = transaction, let messageID = reader.u16(),
              let tlvLength = reader.u16(), let body = reader.bytes(Int(tlvLength))
        else { return nil }
        var tlvReader = ByteReader(body)
        var tlvs: [TLV] = []
        while !tlvReader.isAtEnd {
            guard let type = tlvReader.u8(), let length = tlvReader.u16(),
                  let value = tlvReader.bytes(Int(length))
            else { return nil }
            tlvs.append(TLV(type: type, value: value))
        }
        return QMIMessage(service: service, clientID: clientID, transactionID: transactionID,
                          messageID: messageID, tlvs: tlvs)
    }

    /// Encodes a response from the modem.
    static func encode(_ message: QMIMessage) -> [UInt8] {
        var body: [UInt8] = []
        for tlv in message.tlvs {
            body.append(tlv.type)
            body.appendLE(UInt16(tlv.value.count))
            body += tlv.value
        }
        var sdu: [UInt8] = []
        if message.service == controlService {
            sdu.append(0x01)
            sdu.append(UInt8(truncatingIfNeeded: message.transactionID))
        } else {
            sdu.append(0x02)
            sdu.appendLE(message.transactionID)
        }
        sdu.appendLE(message.messageID)
        sdu.appendLE(UInt16(body.count))
        sdu += body
        var frame: [UInt8] = [marker]
        frame.appendLE(UInt16(sdu.count + 5))
        frame += [fromService, message.service, message.clientID]
        return frame + sdu
    }
}

/// Reads little-endian values; every accessor returns nil instead of trapping on short input.
struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func u8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16? {
        guard let low = u8(), let high = u8() else { return nil }
        return UInt16(low) | UInt16(high) << 8
    }

    mutating func u32() -> UInt32? {
        guard let low = u16(), let high = u16() else { return nil }
        return UInt32(low) | UInt32(high) << 16
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A string preceded by a one-byte length, as in UIM PIN values and PLMN descriptions.
    mutating func shortString() -> String? {
        guard let length = u8(), let raw = bytes(Int(length)) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendShortString(_ string: String) {
        let utf8 = Array(string.utf8.prefix(255))
        append(UInt8(utf8.count))
        append(contentsOf: utf8)
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLE(value)
        return bytes
    }
}
