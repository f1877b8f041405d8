import Glibc

/// Why the simulator could not set up or serve its device.
public struct SimulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String?
    public var code: Int32

    public var description: String {
        let reason = String(cString: strerror(code))
        if let path { return "modem simulator: \(operation) \(path): \(reason)" }
        return "modem simulator: \(operation): \(reason)"
    }

    static func current(_ operation: String, _ path: String? = nil) -> SimulatorError {
        SimulatorError(operation: operation, path: path, code: errno)
    }
}

/// A raw pseudo-terminal pair: the simulator serves the master, clients open `slavePath`.
/// Both ends are close-on-exec so spawned tools never keep a vanished modem alive.
public struct PseudoTerminal: Sendable, Equatable {
    public let master: Int32
    /// Kept open by the simulator so the master never reads EIO while no client is connected.
    public let slave: Int32
    public let slavePath: String

    /// Opens a new pair in raw mode (the line discipline would otherwise mangle binary frames).
    public static func open() throws(SimulatorError) -> PseudoTerminal {
        // posix_openpt/unlockpt/ptsname are hidden from Swift's Glibc module (feature macros), so
        // this is their Linux implementation: /dev/ptmx plus the TIOCSPTLCK/TIOCGPTN ioctls.
        let master = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw .current("open", "/dev/ptmx") }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(master, Self.tiocsptlck, &unlock) == 0, ioctl(master, Self.tiocgptn, &number) == 0 else {
            let error = SimulatorError.current("unlock pseudo-terminal")
            Glibc.close(master)
            throw error
        }
        let path = "/dev/pts/\(number)"
        let slave = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let error = SimulatorError.current("open", path)
            Glibc.close(master)
            throw error
        }
        var attributes = termios()
        guard tcgetattr(slave, &attributes) == 0 else {
            let error = SimulatorError.current("read terminal attributes of", path)
            Glibc.close(slave)
            Glibc.close(master)
            throw error
        }
        cfmakeraw(&attributes)
        guard tcsetattr(slave, TCSANOW, &attributes) == 0 else {
            let error = SimulatorError.current("set raw mode on", path)
            Glibc.close(slave)
            Glibc.close(master)
            throw error
        }
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
        return PseudoTerminal(master: master, slave: slave, slavePath: path)
    }

    /// `_IOW('T', 0x31, int)` and `_IOR('T', 0x30, unsigned int)` from <asm-generic/ioctls.h>.
    private static let tiocsptlck: UInt = 0x4004_5431
    private static let tiocgptn: UInt = 0x8004_5430

    public func close() {
        Glibc.close(master)
        Glibc.close(slave)
    }
}

/// The device path operators and tests point qmicli at: a symlink to the pty's slave.
enum DeviceLink {
    /// Creates or replaces a symlink at `path` (never anything else that lives there).
    static func create(at path: String, to target: String) throws(SimulatorError) {
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFLNK {
            throw SimulatorError(operation: "link device at", path: path, code: EEXIST)
        }
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        guard symlink(target, temporary) == 0 else { throw .current("link device at", temporary) }
        guard rename(temporary, path) == 0 else {
            let error = SimulatorError.current("link device at", path)
            unlink(temporary)
            throw error
        }
    }

    /// Removes the link only while it still points at `target`: a newer simulator may own it.
    static func remove(at path: String, ifPointingTo target: String) {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink(path, &buffer, buffer.count - 1)
        guard length > 0 else { return }
        let current = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if current == target { unlink(path) }
    }
}
