import Reconciler

/// Why the kernel's network state could not be read or changed.
public enum NetworkError: OperatorFacingError, Equatable {
    /// The tool (iproute2's `ip`) could not be started.
    case toolMissing(tool: String, detail: String)
    case timeout(command: String, after: Duration)
    /// The kernel's state could not be read (e.g. the namespace does not exist).
    case observeFailed(command: String, message: String)
    /// Some changes of a batch failed: each with the kernel's answer. The others were applied.
    case changesFailed([FailedChange])

    public struct FailedChange: Sendable, Equatable {
        public var change: String
        public var answer: String
    }

    public var reason: String {
        switch self {
        case .toolMissing: "NetworkToolMissing"
        case .timeout: "NetworkTimeout"
        case .observeFailed: "NetworkObserveFailed"
        case .changesFailed: "NetworkChangeFailed"
        }
    }

    public var message: String {
        switch self {
        case .toolMissing(let tool, let detail):
            "cannot run \(tool) (install iproute2): \(detail)"
        case .timeout(let command, let after):
            "`\(command)` did not finish within \(after)"
        case .observeFailed(let command, let message):
            "`\(command)` failed: \(message)"
        case .changesFailed(let failures):
            "\(failures.count) network change(s) failed: "
                + failures.map { "\(Self.printable($0.change)): \(Self.printable($0.answer))" }.joined(separator: "; ")
        }
    }

    /// A message is one line: control characters in names from outside are shown escaped.
    static func printable(_ text: String) -> String {
        text.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
    }
}
