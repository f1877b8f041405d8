import CQMI
import Foundation
import Logging

/// The one GLib main loop of the process. libqmi delivers every callback on the thread-default
/// context of the thread that started the operation, so all libqmi calls are posted here.
final class GLibLoop: @unchecked Sendable {
    static let shared = GLibLoop()

    private let context: OpaquePointer

    private init() {
        // GLib aborts on allocation failure rather than returning NULL.
        let context: OpaquePointer = g_main_context_new()
        self.context = context
        let handle = LoopHandle(context: context)
        let ready = DispatchSemaphore(value: 0)
        g_log_set_handler("Qmi", GLogLevelFlags(rawValue: G_LOG_LEVEL_MASK.rawValue), forwardGLibLog, nil)
        let thread = Thread {
            g_main_context_push_thread_default(handle.context)
            let loop = g_main_loop_new(handle.context, 0)
            ready.signal()
            g_main_loop_run(loop)
        }
        thread.name = "glib-qmi"
        thread.start()
        ready.wait()
    }

    /// Runs `work` on the loop thread, soon; never blocks the caller.
    func post(_ work: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(WorkBox(work)).toOpaque()
        g_main_context_invoke_full(context, G_PRIORITY_DEFAULT, { data in
            if let data { Unmanaged<WorkBox>.fromOpaque(data).takeUnretainedValue().work() }
            return 0
        }, box, { data in
            if let data { Unmanaged<WorkBox>.fromOpaque(data).release() }
        })
    }

    /// Runs `work` on the loop thread and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            post { continuation.resume(with: Result { try work() }) }
        }
    }
}

private struct LoopHandle: @unchecked Sendable {
    let context: OpaquePointer
}

private final class WorkBox {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
}

private let qmiLogger = Logger(label: "proxyfarm.qmi")

/// libqmi's own log lines go where the rest of ProxyFarm logs, not straight to stderr.
private let forwardGLibLog: GLogFunc = { domain, flags, message, _ in
    let level: Logger.Level = switch flags.rawValue & G_LOG_LEVEL_MASK.rawValue {
    case let bits where bits & (G_LOG_LEVEL_ERROR.rawValue | G_LOG_LEVEL_CRITICAL.rawValue) != 0: .error
    case let bits where bits & G_LOG_LEVEL_WARNING.rawValue != 0: .warning
    case let bits where bits & G_LOG_LEVEL_MESSAGE.rawValue != 0: .notice
    case let bits where bits & G_LOG_LEVEL_INFO.rawValue != 0: .info
    default: .debug
    }
    let text = message.map { String(cString: $0) } ?? ""
    qmiLogger.log(level: level, "\(text)", metadata: ["domain": "\(domain.map { String(cString: $0) } ?? "GLib")"])
}
