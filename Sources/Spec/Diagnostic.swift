import Foundation

/// One problem found in farm.yaml, located precisely enough for an editor to jump to it.
public struct Diagnostic: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error, warning
    }

    public var severity: Severity
    public var file: String
    public var line: Int
    public var column: Int
    /// Key path of the offending node, e.g. `modems[2].ports.http`; "" for whole-file problems.
    public var path: String
    /// What is wrong and what would be right; never a secret.
    public var message: String

    public init(severity: Severity, file: String, line: Int, column: Int, path: String, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `farm.yaml:12:7: error: modems[2].ports.http: 20001 is already used by modems[0] (m01)`
    public var description: String {
        let location = "\(file):\(line):\(column): \(severity.rawValue): "
        return location + (path.isEmpty ? "" : path + ": ") + message
    }
}

/// The outcome of reading farm.yaml: a spec when nothing is wrong, and every diagnostic either way.
public struct FarmLoadResult: Sendable {
    /// Nil exactly when `diagnostics` holds an error.
    public var spec: FarmSpec?
    /// Sorted by line, then column.
    public var diagnostics: [Diagnostic]
    /// The raw file content, for revision hashing.
    public var source: String

    public init(spec: FarmSpec?, diagnostics: [Diagnostic], source: String) {
        self.spec = spec
        self.diagnostics = diagnostics
        self.source = source
    }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}

/// A position in farm.yaml (1-based line and column, columns counted in Unicode scalars like libyaml).
struct Location: Sendable, Hashable {
    var line: Int
    var column: Int
    static let start = Location(line: 1, column: 1)
}

/// Collects diagnostics for one file; deduplicates (a defaults value checked once per modem
/// yields the same diagnostic many times) and sorts them by position.
struct DiagnosticSink {
    let file: String
    private(set) var collected: [Diagnostic] = []
    private var seen: Set<Diagnostic> = []

    init(file: String) { self.file = file }

    mutating func error(_ location: Location, _ path: String, _ message: String) {
        add(.error, location, path, message)
    }

    mutating func warning(_ location: Location, _ path: String, _ message: String) {
        add(.warning, location, path, message)
    }

    /// A diagnostic never echoes more than a short prefix of what the file says: a 50 MB value
    /// or key in farm.yaml must not become 50 MB of stderr, log and farm.json.
    private mutating func add(_ severity: Diagnostic.Severity, _ location: Location, _ path: String, _ message: String) {
        let diagnostic = Diagnostic(severity: severity, file: file, line: location.line, column: location.column,
                                    path: Self.short(path, Self.pathLimit), message: Self.short(message, Self.messageLimit))
        if seen.insert(diagnostic).inserted { collected.append(diagnostic) }
    }

    static let pathLimit = 120
    static let messageLimit = 400

    static func short(_ text: String, _ limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "… (\(text.count - limit) more characters not shown)"
    }

    var hasErrors: Bool { collected.contains { $0.severity == .error } }

    var sorted: [Diagnostic] {
        collected.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}
