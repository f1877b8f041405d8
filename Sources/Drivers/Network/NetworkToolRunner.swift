import Foundation
import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// What a finished tool run printed.
struct ToolOutput: Sendable {
    var status: Int32
    var stdout: Data
    var stderr: String
}

/// Runs `ip` (or another tool) to completion off Swift's cooperative threads: a blocking wait
/// there would stall unrelated tasks. Output is drained on threads of its own so a large dump can
/// never block on a full buffer; the timeout ends the tool with SIGKILL.
///
/// Spawned with posix_spawn rather than Foundation's Process, so that nothing of the reconciler
/// leaks into the tool or from it: the tool starts with no blocked signals (a thread's blocked
/// signals are inherited), and its stdin/stdout/stderr are close-on-exec socket pairs — a pipe
/// would be inherited by every process spawned meanwhile (a long-lived 3proxy would then hold our
/// output open), a socket can be shut down to end a read that waits for such a holder anyway, and
/// writing input to a tool that has exited costs an EPIPE, not a SIGPIPE that kills the reconciler.
enum NetworkToolRunner {
    static func run(_ arguments: [String], input: String? = nil, timeout: Duration) async throws(NetworkError) -> ToolOutput {
        let result: Result<ToolOutput, NetworkError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: runBlocking(arguments, input: input, timeout: timeout))
            }
        }
        return try result.get()
    }

    /// The blocking form, for callers on a thread of their own (the test lab).
    static func runBlocking(_ arguments: [String], input: String?, timeout: Duration) -> Result<ToolOutput, NetworkError> {
        let tool = arguments.first ?? ""
        var channels: [(parent: Int32, child: Int32)] = []
        defer { for channel in channels { close(channel.parent) } }
        for _ in 0..<3 {
            var ends: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
                for channel in channels { close(channel.child) }
                return .failure(.toolMissing(tool: tool, detail: "socketpair: " + String(cString: strerror(errno))))
            }
            channels.append((ends[0], ends[1]))
        }
        let spawned = spawn(arguments, standardStreams: channels.map(\.child))
        // Only the tool holds its ends now: its exit is our end of file (and EPIPE for input).
        for channel in channels { close(channel.child) }
        let pid: pid_t
        switch spawned {
        case .success(let spawnedPID): pid = spawnedPID
        case .failure(let error): return .failure(.toolMissing(tool: tool, detail: String(cString: strerror(error.code))))
        }

        let collected = CollectedToolOutput()
        let drained = DispatchGroup()
        for (index, channel) in channels.dropFirst().enumerated() {
            drained.enter()
            Thread.detachNewThread {
                collected.store(readAll(channel.parent), at: index)
                drained.leave()
            }
        }
        let outputs = channels.dropFirst().map(\.parent)
        let killer = DispatchWorkItem {
            collected.expire {
                kill(pid, SIGKILL)
                for output in outputs { shutdown(output, Int32(SHUT_RDWR)) }
            }
        }
        let (seconds, attoseconds) = timeout.components
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: killer)
        if let input { send(Array(input.utf8), to: channels[0].parent) }
        shutdown(channels[0].parent, Int32(SHUT_WR))

        drained.wait()
        // Wait without reaping, so the pid cannot be reused while the timeout may still kill it.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        killer.cancel()
        collected.finish()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if collected.timedOut {
            return .failure(.timeout(command: arguments.joined(separator: " "), after: timeout))
        }
        // Exit code, or 128 + signal like a shell says it.
        let exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return .success(ToolOutput(status: exitStatus, stdout: collected.data[0], stderr: String(decoding: collected.data[1], as: UTF8.self)))
    }

    /// posix_spawnp with `streams` as stdin, stdout and stderr, default signal dispositions and
    /// nothing blocked. (Also used by the test lab for its long-running servers.)
    static func spawn(_ arguments: [String], standardStreams streams: [Int32]) -> Result<pid_t, SpawnError> {
        guard let tool = arguments.first else { return .failure(SpawnError(code: EINVAL)) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in streams.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, stream, Int32(target))
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let code = posix_spawnp(&pid, tool, &actions, &attributes, argv, environ)
        return code == 0 ? .success(pid) : .failure(SpawnError(code: code))
    }

    /// Writes all of `bytes`, stopping early when the tool has stopped reading.
    private static func send(_ bytes: [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            offset += count
        }
    }

    /// Reads until end of file (or until the timeout shuts the socket down).
    private static func readAll(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }
}

struct SpawnError: Error {
    var code: Int32
}

private final class CollectedToolOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = [Data(), Data()]
    private var expired = false
    private var finished = false

    var data: [Data] { lock.withLock { storage } }
    var timedOut: Bool { lock.withLock { expired } }
    func store(_ bytes: Data, at index: Int) { lock.withLock { storage[index] = bytes } }

    /// Runs the timeout's action unless the run already finished (its descriptors may be reused).
    func expire(_ action: () -> Void) {
        lock.withLock {
            guard !finished else { return }
            expired = true
            action()
        }
    }

    func finish() { lock.withLock { finished = true } }
}
