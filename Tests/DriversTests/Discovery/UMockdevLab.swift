import Drivers
import Foundation
import Reconciler
import Testing

/// Runs discovery inside umockdev testbeds. The preload library only works from process start,
/// so discovery runs in `DiscoveryProbe` (a child process) and reports JSON back.
enum UMockdevLab {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Why the lab cannot run here, or nil when it can.
    static let missing: String? = {
        for tool in ["umockdev-run", "umockdev-wrapper"] where executable(named: tool) == nil {
            return "\(tool) is not installed (apt-get install umockdev libumockdev-dev)"
        }
        let probe = try? run(python, ["-c", "import gi; gi.require_version('UMockdev', '1.0'); from gi.repository import UMockdev"])
        return probe?.status == 0 ? nil : "\(python) cannot import UMockdev (apt-get install python3-gi gir1.2-umockdev-1.0)"
    }()

    /// Outside CI the tests skip when umockdev is missing; in CI they run, and `require()` fails them.
    static let runnable = isCI || missing == nil

    static func require() throws {
        if let missing { throw UMockdevLabError.missing(missing) }
    }

    /// Debian's interpreter: it has python3-gi, a pyenv one usually does not.
    static let python = "/usr/bin/python3"

    static let fixtures: URL = {
        let resources = Bundle.module.resourceURL ?? Bundle.module.bundleURL
        return resources.appending(path: "Fixtures/umockdev")
    }()

    static func fixture(_ name: String) -> String {
        fixtures.appending(path: "\(name).umockdev").path
    }

    /// Built next to the test bundle by `swift build` / `swift test`.
    static var probe: String {
        get throws {
            let directory = URL(filePath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            let path = directory.appending(path: "DiscoveryProbe").path
            guard FileManager.default.isExecutableFile(atPath: path) else { throw UMockdevLabError.missing("\(path) (swift build --product DiscoveryProbe)") }
            return path
        }
    }

    /// What discovery reports with these fixtures loaded into a fresh testbed. The seconds a
    /// testbed takes are waited for on a thread of its own: a test that blocks one of the
    /// cooperative pool's threads (two on CI) stalls every test running beside it.
    static func scan(_ fixtureNames: [String]) async throws -> [PluggedModem] {
        try require()
        let devices = fixtureNames.flatMap { ["-d", fixture($0)] }
        let arguments = devices + ["--", try probe, "scan"]
        let result = try await onOwnThread { try run(executable(named: "umockdev-run") ?? "umockdev-run", arguments) }
        guard result.status == 0 else { throw UMockdevLabError.failed("DiscoveryProbe scan", result.errors) }
        return try decodeModems(result.output)
    }

    static func decodeModems(_ line: String) throws -> [PluggedModem] {
        try JSONDecoder().decode([PluggedModem].self, from: Data(line.utf8))
    }

    static func executable(named name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(filePath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let errorData = ErrorCollector(errors.fileHandleForReading)
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), errorData.completeText)
    }
}

enum UMockdevLabError: Error, CustomStringConvertible {
    case missing(String)
    case failed(String, String)
    case timeout(String, String)

    var description: String {
        switch self {
        case .missing(let what): "umockdev lab unavailable: \(what)"
        case .failed(let what, let errors): "\(what) failed: \(errors)"
        case .timeout(let what, let errors): "timed out waiting for \(what); stderr: \(errors)"
        }
    }
}

/// Reads a child's stderr in the background, so that a chatty child never blocks on a full pipe.
final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let ended = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        handle.readabilityHandler = { [self] handle in
            let chunk = handle.availableData
            lock.withLock { data.append(chunk) }
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                ended.signal()
            }
        }
    }

    /// What was read so far.
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }

    /// Everything, once the child closed stderr (or after a second, for a stuck grandchild).
    var completeText: String {
        _ = ended.wait(timeout: .now() + 1)
        return text
    }
}
