import Foundation

/// The lab host's command line: a unix stream socket taking one command per connection and
/// answering one line (`ok` or `error <why>`), so that a caller knows the command is done.
struct ControlSocket {
    private let fd: Int32

    init(listeningAt path: String) throws(LabError) {
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io(operation: "create socket", path: path, detail: String(cString: strerror(errno))) }
        var address = try Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            throw .io(operation: "listen on", path: path, detail: String(cString: strerror(errno)))
        }
    }

    /// Answers connections one at a time, forever.
    func serve(_ handle: (String) -> String) -> Never {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            if let line = Self.readLine(client) { Self.writeAll(client, handle(line) + "\n") }
            close(client)
        }
    }

    /// Sends one command to the host listening at `path` and returns its answer.
    static func send(_ command: String, to path: String) throws(LabError) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io(operation: "create socket", path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = try Self.address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            throw .io(operation: "connect to the lab host at", path: path, detail: String(cString: strerror(errno)) + " (is the lab up?)")
        }
        writeAll(fd, command + "\n")
        guard let answer = readLine(fd) else { throw .io(operation: "read the answer from", path: path, detail: "no answer") }
        return answer
    }

    private static func address(_ path: String) throws(LabError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .io(operation: "use socket", path: path, detail: "path too long for a unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        return address
    }

    private static func readLine(_ fd: Int32) -> String? {
        var data = Data()
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: data, as: UTF8.self) }
            data.append(byte)
        }
        return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
    }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
