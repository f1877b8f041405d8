import Spec
import Foundation

/// The little of HTTP/1.x a health probe needs: the status code and a `Content-Length` body.
struct HTTPProbeResponse: Equatable {
    var status: Int
    var body: String

    private static let headerEnd: [UInt8] = Array("\r\n\r\n".utf8)

    init(_ bytes: [UInt8]) throws(ProbeFailure) {
        guard let (head, bodyStart) = Self.split(bytes) else {
            throw ProbeFailure(bytes.isEmpty ? "connection closed without an answer" : "incomplete HTTP answer")
        }
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ProbeFailure("not an HTTP answer: \(statusLine.prefix(60))")
        }
        self.status = status
        let length = Self.contentLength(head) ?? (bytes.count - bodyStart)
        body = String(decoding: bytes[bodyStart..<min(bytes.count, bodyStart + length)], as: UTF8.self)
    }

    /// Whether `bytes` already hold the whole answer (headers, plus the body its length names),
    /// so a server that keeps the connection open is not waited for.
    static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard let (head, bodyStart) = split(bytes), let length = contentLength(head) else { return false }
        return bytes.count - bodyStart >= length
    }

    private static func split(_ bytes: [UInt8]) -> (head: String, bodyStart: Int)? {
        guard bytes.count >= headerEnd.count else { return nil }
        for start in 0...(bytes.count - headerEnd.count) where bytes[start..<start + headerEnd.count].elementsEqual(headerEnd) {
            return (String(decoding: bytes[..<start], as: UTF8.self), start + headerEnd.count)
        }
        return nil
    }

    private static func contentLength(_ head: String) -> Int? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "content-length" {
                return Int(pair[1].trimmingWhitespace())
            }
        }
        return nil
    }
}
