import Reconciler

/// What went wrong while building or removing the lab, in words that say what to do.
enum LabError: OperatorFacingError, CustomStringConvertible {
    case needsRoot(command: String)
    case invalidName(String)
    case invalidModemCount(Int)
    case invalidHostCount(Int)
    case needsHost(hosts: [String])
    case unknownHost(String, hosts: [String])
    case toolMissing(String)
    case commandFailed(command: String, status: Int32, output: String)
    case serverDidNotStart(log: String)
    case hostDidNotStart(log: String)
    case hostRefused(command: String, answer: String)
    case io(operation: String, path: String, detail: String)

    var reason: String {
        switch self {
        case .needsRoot: "NeedsRoot"
        case .invalidName: "InvalidLabName"
        case .invalidModemCount: "InvalidModemCount"
        case .invalidHostCount: "InvalidHostCount"
        case .needsHost: "NeedsHost"
        case .unknownHost: "UnknownHost"
        case .toolMissing: "ToolMissing"
        case .commandFailed: "CommandFailed"
        case .serverDidNotStart: "ServerDidNotStart"
        case .hostDidNotStart: "LabHostDidNotStart"
        case .hostRefused: "LabHostRefused"
        case .io: "IOError"
        }
    }

    var message: String {
        switch self {
        case .needsRoot(let command):
            "`reconcile \(command)` creates network namespaces and must run as root (try sudo)"
        case .invalidName(let name):
            "lab name '\(name)' must be 1 to 32 letters, digits or '-'"
        case .invalidModemCount(let count):
            "--modems \(count) is out of range: the lab has 1 to \(LabTopology.maximumModems) modems (one 100.64.N.0/24 each, all hosts together)"
        case .invalidHostCount(let count):
            "--hosts \(count) is out of range: a multi-host lab has 1 to \(LabTopology.maximumHosts) farm hosts"
        case .needsHost(let hosts):
            "this lab has several hosts: name one with --host (\(hosts.joined(separator: ", ")))"
        case .unknownHost(let host, let hosts):
            "this lab has no host '\(host)': it has \(hosts.isEmpty ? "one host (leave --host out)" : hosts.joined(separator: ", "))"
        case .toolMissing(let tool):
            "\(tool) was not found on PATH: install it (Debian: apt-get install iproute2 util-linux python3 curl), or run scripts/install-deps"
        case .commandFailed(let command, let status, let output):
            "`\(command)` failed with status \(status)" + (output.isEmpty ? "" : ": \(output)")
        case .serverDidNotStart(let log):
            "the what-is-my-IP server did not start" + (log.isEmpty ? "" : ": \(log)")
        case .hostDidNotStart(let log):
            "the lab host (simulated /sys, /dev and modems) did not start" + (log.isEmpty ? "" : ": \(log)")
        case .hostRefused(let command, let answer):
            "the lab host refused `\(command)`: \(answer)"
        case .io(let operation, let path, let detail):
            "cannot \(operation) \(path): \(detail)"
        }
    }

    var description: String { message }
}
