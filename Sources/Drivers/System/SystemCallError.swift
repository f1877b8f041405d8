import Foundation
import Reconciler

/// A failed system call of the daemon's plumbing (inotify, sockets, pipes), with errno's text.
public struct SystemCallError: OperatorFacingError, Equatable, CustomStringConvertible {
    /// What was attempted, in the operator's words, e.g. `watch /etc/proxyfarm`.
    public var operation: String
    public var code: Int32

    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public var reason: String { "SystemCallFailed" }
    public var message: String { "cannot \(operation): \(String(cString: strerror(code)))" }
    public var description: String { message }
}
