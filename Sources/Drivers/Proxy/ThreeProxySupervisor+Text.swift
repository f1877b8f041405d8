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

    /// Lines 3proxy wrote on stderr since `offset` that are not warnings: config errors (`Parse
    /// error line 5`, `Command: 'x' failed …`, `Unknown command`), a log it cannot open. Its access
    /// log lines go to stdout (another file) and never count.
    static func errorLines(_ path: String, from offset: Int) -> [Substring] {
        output(path, from: offset).split(separator: "\n").filter { !$0.contains("Warning") }
    }

    /// The last lines 3proxy wrote since `offset`, on one line, for an error message.
    static func tail(_ path: String, from offset: Int) -> String {
        let lines = output(path, from: offset).split(separator: "\n").suffix(5)
        return String(lines.joined(separator: " | ").suffix(600))
    }

    /// A file shorter than `offset` was truncated (logrotate's copytruncate): all of it is new.
    private static func output(_ path: String, from offset: Int) -> String {
        guard let bytes = ProcFS.read(path) else { return "" }
        return String(decoding: bytes[(bytes.count < offset ? 0 : offset)...], as: UTF8.self)
    }
}
