import CQMI
import Foundation
import Reconciler

/// What a libqmi `foo_async(…, timeout, cancellable, callback, user_data)` call needs.
struct QMIStart: @unchecked Sendable {
    /// libqmi's own timeout, whole seconds.
    let seconds: guint
    let cancellable: UnsafeMutablePointer<GCancellable>
    let callback: GAsyncReadyCallback
    let userData: gpointer
}

/// Slack on top of libqmi's timeout before the Swift-side guard gives up: libqmi uses
/// second-granularity GLib timers that may fire late.
let swiftGuardSlack: Duration = .milliseconds(700)

/// One libqmi operation in flight. Ended exactly once: by libqmi's callback, by the Swift-side
/// timeout guard, by task cancellation or by the device vanishing — whichever comes first.
final class PendingCall: @unchecked Sendable {
    let operation: String
    let device: String
    let cancellable: UnsafeMutablePointer<GCancellable>
    /// Called once the call ended, so the device stops tracking it.
    var onEnd: (@Sendable () -> Void)?
    private let deliver: @Sendable (Result<OpaquePointer, QMIError>) -> Void
    private let lock = NSLock()
    private var done = false
    /// The Swift-side guard's deadline while the call is in flight (`failAfter`).
    private var deadline: UInt64?

    /// `deliver` gets libqmi's result (on the loop thread) or the error that ended the call.
    init(operation: String, device: String, deliver: @escaping @Sendable (Result<OpaquePointer, QMIError>) -> Void) {
        self.operation = operation
        self.device = device
        self.deliver = deliver
        cancellable = g_cancellable_new()
    }

    deinit { g_object_unref(cancellable) }

    /// Claims the right to end the call; true only for the first caller, who also disarms the guard.
    private func claim() -> Bool {
        let (first, deadline) = lock.withLock { () -> (Bool, UInt64?) in
            if done { return (false, nil) }
            done = true
            defer { self.deadline = nil }
            return (true, self.deadline)
        }
        if let deadline { Deadlines.shared.remove(deadline) }
        return first
    }

    /// Fails the call with `error` at `instant` unless it ended first: the guard for a libqmi
    /// timeout that does not fire (its GLib timers are whole seconds, its loop may be stuck).
    func failAfter(_ instant: ContinuousClock.Instant, _ error: @escaping @Sendable @autoclosure () -> QMIError) {
        let id = Deadlines.shared.add(at: instant) { self.fail(error()) }
        let ended = lock.withLock { () -> Bool in
            if !done { deadline = id }
            return done
        }
        if ended { Deadlines.shared.remove(id) }
    }

    /// Runs on the loop thread with libqmi's result.
    func complete(_ result: OpaquePointer) {
        guard claim() else { return }
        onEnd?()
        deliver(.success(result))
    }

    /// Ends the call with `error` unless it already ended, and stops libqmi waiting for it.
    func fail(_ error: QMIError) {
        guard claim() else { return }
        onEnd?()
        deliver(.failure(error))
        let token = CancellableToken(pointer: cancellable, owner: self)
        GLibLoop.shared.post { g_cancellable_cancel(token.pointer) }
    }
}

/// Keeps the cancellable alive until the loop has cancelled it.
private struct CancellableToken: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<GCancellable>
    let owner: PendingCall
}

/// The C callback of every libqmi operation: takes back the retained call and completes it.
private let pendingCallback: GAsyncReadyCallback = { _, result, userData in
    guard let userData else { return }
    let call = Unmanaged<PendingCall>.fromOpaque(userData).takeRetainedValue()
    if let result { call.complete(result) }
}

/// Tracks calls in flight so that a vanished modem can end them all at once.
final class CallTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [ObjectIdentifier: PendingCall] = [:]
    private var goneReason: String?

    /// Registers `call`, or returns why the device is gone.
    func add(_ call: PendingCall) -> String? {
        lock.withLock {
            if let goneReason { return goneReason }
            calls[ObjectIdentifier(call)] = call
            return nil
        }
    }

    func remove(_ call: PendingCall) {
        _ = lock.withLock { calls.removeValue(forKey: ObjectIdentifier(call)) }
    }

    /// Marks the device gone and fails every call in flight.
    func markGone(_ reason: String) {
        let victims = lock.withLock { () -> [PendingCall] in
            goneReason = goneReason ?? reason
            defer { calls.removeAll() }
            return Array(calls.values)
        }
        for call in victims {
            call.fail(QMIError(.modemGone, device: call.device, operation: call.operation, detail: reason))
        }
    }

    var isGone: Bool { lock.withLock { goneReason != nil } }
}

/// Runs one libqmi async operation on the loop and waits for it, never longer than `timeout`
/// (+ slack) and no longer than the calling task stays uncancelled. `start` runs on the loop
/// thread; `finish` runs there too, with libqmi's result.
func qmiCall<T: Sendable>(
    _ operation: String, device: String, tracker: CallTracker?, timeout: Duration,
    start: @escaping @Sendable (QMIStart) -> Void,
    finish: @escaping @Sendable (OpaquePointer) throws -> T
) async throws -> T {
    let seconds = guint(max(1, (timeout + .milliseconds(999)).components.seconds))
    let slot = CallSlot()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            let call = PendingCall(operation: operation, device: device) { outcome in
                switch outcome {
                case .success(let result): continuation.resume(with: Result { try finish(result) })
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
            if let tracker {
                if let gone = tracker.add(call) {
                    call.fail(QMIError(.modemGone, device: device, operation: operation, detail: gone))
                    return
                }
                call.onEnd = { [weak call] in if let call { tracker.remove(call) } }
            }
            guard slot.fill(call) else { return }
            let userData = Unmanaged.passRetained(call).toOpaque()
            let begin = QMIStart(seconds: seconds, cancellable: call.cancellable, callback: pendingCallback, userData: userData)
            GLibLoop.shared.post { start(begin) }
            call.failAfter(.now + .seconds(Int64(seconds)) + swiftGuardSlack,
                           QMIError(.timeout, device: device, operation: operation, detail: "no answer within \(seconds)s"))
        }
    } onCancel: {
        slot.cancel()
    }
}

/// Hands a task's cancellation to its call, whichever of the two comes first.
private final class CallSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var call: PendingCall?
    private var cancelled = false

    /// Stores `call`; false (and the call failed) when the task was already cancelled.
    func fill(_ call: PendingCall) -> Bool {
        let proceed = lock.withLock { () -> Bool in
            self.call = call
            return !cancelled
        }
        if !proceed { call.fail(cancellation(call)) }
        return proceed
    }

    func cancel() {
        let call = lock.withLock { () -> PendingCall? in
            cancelled = true
            return self.call
        }
        if let call { call.fail(cancellation(call)) }
    }

    private func cancellation(_ call: PendingCall) -> QMIError {
        QMIError(.cancelled, device: call.device, operation: call.operation, detail: "the caller gave up waiting")
    }
}

/// Throws the GError of a failed libqmi getter, or returns when `ok`.
func check(_ ok: gboolean, _ error: UnsafeMutablePointer<GError>?, device: String, operation: String) throws {
    if ok == 0 { throw QMIError.consuming(error, device: device, operation: operation) }
}
