import Glibc
import Reconciler

/// Names, paths and 3proxy's stderr, as the supervisor reads them.
extension ThreeProxySupervisor {
    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(cString: buffer)
        return (cwd == "/" ? "" : cwd) + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// A modem name is used in file names: the renderer's safe names (no slash, no leading dot).
    static func isSafeFileName(_ name: String) -> Bool { ProxyConfigRenderer.isSafeName(name) }

    static func checkName(_ name: String) throws(ProxySupervisorError) {
        if !isSafeFileName(name) { throw .invalidModemName(name) }
    }

    static func baseName(_ path: String) -> Substring {
        path.split(separator: "/").last ?? Substring(path)
    }

    /// The config errors 3proxy wrote on stderr since `offset`: every way its config reader gives
    /// up ends in one of these lines (conf.c readconfig). Other stderr lines are not about the
    /// config: warnings, and `printf(): Bad file descriptor`, which 3proxy 1.0 prints when a client
    /// thread logs while a reload reopens the log. Access lines go to stdout and never count.
    static func configErrors(_ path: String, from offset: Int) -> [Substring] {
        output(path, from: offset).split(separator: "\n").filter { line in
            configErrorPrefixes.contains { line.hasPrefix($0) }
        }
    }

    static let configErrorPrefixes = ["Parse error line ", "Command: '", "Unknown command: '", "No memory for configuration"]

    /// The last lines 3proxy wrote since `offset`, on one line, for an error message.
    static func tail(_ path: String, from offset: Int) -> String {
        let lines = output(path, from: offset).split(separator: "\n").suffix(5)
        return String(lines.joined(separator: " | ").suffix(600))
    }

    /// A file shorter than `offset` was truncated (logrotate's copytruncate): all of it is new.
    private static func output(_ path: String, from offset: Int) -> String {
        guard let bytes = WholeFile.bytes(path) else { return "" }
        return String(decoding: bytes[(bytes.count < offset ? 0 : offset)...], as: UTF8.self)
    }
}
