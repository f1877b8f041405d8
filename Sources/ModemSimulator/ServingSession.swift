import Glibc

/// The background thread that reads QMUX frames from the device and writes the answers.
final class ServingSession: Sendable {
    struct Device: Sendable {
        var fd: Int32
        /// Set when the simulator created the pty and must close it.
        var ownedTerminal: PseudoTerminal?
        var linkPath: String?
    }

    typealias Responder = @Sendable (QMIMessage) -> [UInt8]?

    private let device: Device
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let thread: pthread_t

    private init(device: Device, wakeRead: Int32, wakeWrite: Int32, thread: pthread_t) {
        self.device = device
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
        self.thread = thread
    }

    static func launch(_ device: Device, responder: @escaping Responder) throws(SimulatorError) -> ServingSession {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw .current("create wake-up pipe") }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let loop = ServeLoop(fd: device.fd, wakeFD: pipeFDs[0], responder: responder)
        let context = Unmanaged.passRetained(loop).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<ServeLoop>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ServeLoop>.fromOpaque(context).release()
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw SimulatorError(operation: "start serving thread", path: nil, code: result)
        }
        return ServingSession(device: device, wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1], thread: thread)
    }

    /// Wakes the thread, waits for it, then releases the device.
    func end() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        pthread_join(thread, nil)
        close(wakeRead)
        close(wakeWrite)
        if let terminal = device.ownedTerminal {
            if let link = device.linkPath { DeviceLink.remove(at: link, ifPointingTo: terminal.slavePath) }
            terminal.close()
        }
    }
}

/// Runs on the serving thread only.
private final class ServeLoop {
    let fd: Int32
    let wakeFD: Int32
    let responder: ServingSession.Responder
    var pending: [UInt8] = []

    init(fd: Int32, wakeFD: Int32, responder: @escaping ServingSession.Responder) {
        self.fd = fd
        self.wakeFD = wakeFD
        self.responder = responder
    }

    func run() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 || fds[0].revents & Int16(POLLNVAL) != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else {
                // Hang-up with nobody on the other side (a borrowed fd): wait instead of spinning.
                if fds[0].revents != 0 { pauseBriefly() }
                continue
            }
            let count = read(fd, &chunk, chunk.count)
            if count > 0 {
                pending += chunk[0..<count]
                for request in QMUX.takeFrames(from: &pending) {
                    if let frame = responder(request) { send(frame) }
                }
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                pauseBriefly()
            }
        }
    }

    /// Writes a whole frame; gives up after about a second if nobody drains the terminal.
    private func send(_ frame: [UInt8]) {
        var offset = 0
        var attempts = 0
        while offset < frame.count, attempts < 50 {
            let written = frame[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if errno == EAGAIN || errno == EINTR {
                attempts += 1
                var out = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&out, 1, 20)
            } else {
                return
            }
        }
    }

    private func pauseBriefly() {
        var wake = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&wake, 1, 20)
    }
}
