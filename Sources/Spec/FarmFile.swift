import Foundation
import Yams

/// Whose secrets a load reads to check them. Each process reads only its own, so that each can
/// run with only its own secrets at hand: the reconciler has no need of the API's tokens, and
/// `reconcile serve` (unprivileged) none of the proxies' passwords and SIM PINs.
public enum SecretUse: Sendable {
    /// Passwords and PINs: the reconciler's passes and the daemon.
    case proxies
    /// The API's and links' tokens: `reconcile serve`.
    case api
    /// Every secret: `reconcile validate`.
    case all

    var unread: Set<SecretChecker.Kind> {
        switch self {
        case .proxies: [.token]
        case .api: [.password, .pin]
        case .all: []
        }
    }
}

/// Reads and validates farm.yaml, collecting every problem in one run.
public enum FarmFile {
    /// Reads the file at `path`; secrets named relative to it are looked up beside it.
    /// The largest farm.yaml read: far above any real farm (a 1,000-modem file is about 100 KB),
    /// small enough that refusing or reading one costs little time and memory.
    public static let sizeLimit = 256 << 10

    /// `reading` says whose secrets are read to check them (see `SecretUse`).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                            reading: SecretUse = .proxies) -> FarmLoadResult {
        var sink = DiagnosticSink(file: path)
        var info = stat()
        if stat(path, &info) == 0, Int(info.st_size) > sizeLimit {
            sink.error(.start, "", "the file is \(info.st_size) bytes; farm.yaml may be at most \(sizeLimit) bytes (256 KiB)")
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: "")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            sink.error(.start, "", "no such file (\(absolute)); name another farm file with --file PATH")
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: "")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            sink.error(.start, "", "cannot read the file (is it a directory, or unreadable for this user?)")
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: "")
        }
        guard let yaml = String(data: data, encoding: .utf8) else {
            sink.error(firstInvalidUTF8(data), "", "the file is not UTF-8 text")
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: String(decoding: data, as: UTF8.self))
        }
        let directory = PlainText.directory(of: path)
        return parse(yaml: yaml, file: path, baseDirectory: directory.isEmpty ? "." : directory, environment: environment,
                     reading: reading)
    }

    /// Validates farm.yaml text; `file` names it in diagnostics, `baseDirectory` anchors relative secret files.
    public static func parse(yaml: String, file: String, baseDirectory: String, environment: [String: String],
                             reading: SecretUse = .proxies) -> FarmLoadResult {
        var sink = DiagnosticSink(file: file)
        guard yaml.utf8.count <= sizeLimit else {
            sink.error(.start, "", "the text is \(yaml.utf8.count) bytes; farm.yaml may be at most \(sizeLimit) bytes (256 KiB)")
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: "")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml, .basic)  // tags: Node.tagName
        } catch {
            report(error, in: yaml, into: &sink)
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: yaml)
        }
        guard let root else {
            sink.error(.start, "", "the file is empty; it needs at least 'version: 1' and 'modems:'")
            return FarmLoadResult(spec: nil, diagnostics: sink.sorted, source: yaml)
        }
        var checker = StructureChecker(sink: sink)
        let checked = checker.check(root, as: FarmKeys.root, path: "")
        var builder = FarmBuilder(sink: checker.sink,
                                  secrets: SecretChecker(baseDirectory: baseDirectory, environment: environment, unread: reading.unread))
        let spec = checked.flatMap { builder.build($0) }
        sink = builder.sink
        return FarmLoadResult(spec: sink.hasErrors ? nil : spec, diagnostics: sink.sorted, source: yaml)
    }

    /// A YAML syntax error as a diagnostic. libyaml's messages are fixed phrases, never file content.
    private static func report(_ error: any Error, in yaml: String, into sink: inout DiagnosticSink) {
        guard let error = error as? YamlError else {
            sink.error(.start, "", "cannot read the YAML: \(error)")
            return
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\($0.text) started at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            sink.error(Location(line: mark.line, column: mark.column), "", "YAML syntax: \(problem)\(while_)")
        case .reader(let problem, let offset, _, _):
            sink.error(location(ofCharacter: offset ?? 0, in: yaml), "", "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            let first = Location(line: max(context.mark.line, 1), column: max(context.mark.column, 1))
            if let key = duplicates.first, let repeated = repetition(of: key, after: first, in: yaml) {
                sink.error(repeated, "", "key \(keys) is given a second time in this mapping (first at line \(first.line)); keep one")
            } else {
                sink.error(first, "", "key \(keys) is given more than once in this mapping (first here); keep one")
            }
        default:
            sink.error(.start, "", "cannot read the YAML: \(error)")
        }
    }

    /// Where a block mapping's `key` (first written at `first`) is written again: Yams only reports
    /// the first occurrence, but the operator wants to jump to the one to delete. Nil when the
    /// repetition is not found this way (flow mappings), and then the first one is reported.
    static func repetition(of key: String, after first: Location, in yaml: String) -> Location? {
        let lines = yaml.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        let spellings = [key, "\"\(key)\"", "'\(key)'"].flatMap { [$0 + ":", $0 + " :"] }
        for index in first.line..<max(first.line, lines.count) {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indent)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if indent + 1 < first.column { return nil }
            if indent + 1 == first.column, spellings.contains(where: { content.hasPrefix($0) }) {
                return Location(line: index + 1, column: first.column)
            }
        }
        return nil
    }

    /// Line and column (in Unicode scalars, like libyaml) of the character at `offset`.
    static func location(ofCharacter offset: Int, in text: String) -> Location {
        var line = 1, column = 1
        for character in text.prefix(offset) {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return Location(line: line, column: column)
    }

    private static func firstInvalidUTF8(_ data: Data) -> Location {
        var line = 1
        for chunk in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if String(data: Data(chunk), encoding: .utf8) == nil { return Location(line: line, column: 1) }
            line += 1
        }
        return .start
    }
}
