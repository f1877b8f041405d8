import Foundation

/// Why a secret could not be read. Says which source failed and how to fix it; never the secret.
public struct SecretError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Short CamelCase reason for a status condition, e.g. `SecretFileMissing`.
    public var reason: String
    /// One line for the operator; never contains the secret.
    public var message: String

    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

extension SecretSource {
    /// The secret's text. A `hash` resolves to the hash itself (3proxy's `CR` form). A file's
    /// single trailing newline (`\n` or `\r\n`) is dropped, as editors and `echo` add one.
    public func resolve(baseDirectory: String, environment: [String: String]) throws(SecretError) -> String {
        switch self {
        case .value(let secret), .hash(let secret):
            return secret
        case .env(let name):
            guard let secret = environment[name] else {
                throw SecretError(reason: "SecretEnvUnset", message: "the environment variable named here is not set (its name is not shown, in case a secret was put under env: by mistake)")
            }
            return secret
        case .file(let path):
            let fullPath = Self.absolute(path, baseDirectory: baseDirectory)
            guard FileManager.default.fileExists(atPath: fullPath) else {
                throw SecretError(reason: "SecretFileMissing", message: "the secret file named here does not exist (looked in \(URL(fileURLWithPath: baseDirectory).standardizedFileURL.path); its name is not shown)")
            }
            guard let data = FileManager.default.contents(atPath: fullPath) else {
                throw SecretError(reason: "SecretFileUnreadable", message: "the secret file named here cannot be read")
            }
            guard var secret = String(data: data, encoding: .utf8) else {
                throw SecretError(reason: "SecretFileNotText", message: "the secret file named here is not UTF-8 text")
            }
            if secret.hasSuffix("\r\n") || secret.hasSuffix("\n") { secret.removeLast() }
            return secret
        }
    }

    /// `path` as an absolute path; relative paths are relative to farm.yaml's directory.
    static func absolute(_ path: String, baseDirectory: String) -> String {
        if path.hasPrefix("/") { return path }
        let base = baseDirectory.isEmpty ? "." : baseDirectory
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }
}

extension FarmSpec {
    /// Every secret file farm.yaml names (passwords, PINs), as absolute or farm.yaml-relative
    /// paths made whole: what the daemon watches so that a changed password is applied at once.
    public func secretFiles(baseDirectory: String) -> [String] {
        let sources = users.map(\.password) + modems.compactMap(\.pin)
        let paths = sources.compactMap { source -> String? in
            guard case .file(let path) = source else { return nil }
            return SecretSource.absolute(path, baseDirectory: baseDirectory)
        }
        return Array(Set(paths)).sorted()
    }
}

/// Validates the secrets farm.yaml refers to: they are read only to check them, and no
/// diagnostic ever contains their text.
struct SecretChecker {
    enum Kind: String {
        case password, pin = "PIN", token
    }

    let baseDirectory: String
    let environment: [String: String]
    /// Secrets of these kinds are not read (nor their files' modes looked at), only where they come from.
    var unread: Set<Kind> = []

    /// The source named by a checked `password`/`pin` choice.
    static func source(of choice: CheckedValue?) -> SecretSource? {
        guard let (key, value) = choice?.choice, let text = value.text else { return nil }
        switch key {
        case "file": return .file(text)
        case "hash": return .hash(text)
        case "env": return .env(text)
        default: return .value(text)
        }
    }

    /// `user` names the password's owner (its length bounds the password's).
    func check(_ choice: CheckedValue?, as kind: Kind, user: String = "", into sink: inout DiagnosticSink) {
        guard let choice, let node = choice.choice?.value, let source = Self.source(of: choice) else { return }
        switch source {
        case .value:
            sink.warning(node.location, node.path, "plain-text \(kind.rawValue) in farm.yaml; prefer file or env")
        case .file(let path):
            if !unread.contains(kind) { checkPermissions(path, node, into: &sink) }
        case .hash, .env:
            break
        }
        if case .hash = source { return }
        guard !unread.contains(kind) else { return }
        do {
            let secret = try source.resolve(baseDirectory: baseDirectory, environment: environment)
            if let problem = Self.problem(with: secret, as: kind, user: user) {
                let origin = if case .value = source { "" } else { " from \(source)" }
                sink.error(node.location, node.path, "the \(kind.rawValue)\(origin) \(problem)")
            }
        } catch {
            sink.error(node.location, node.path, error.message)
        }
    }

    /// Tokens are guessable below this length (`openssl rand -hex 16` gives 32).
    static let minimumTokenLength = 16

    /// What makes a secret unusable, in words that do not reveal it.
    static func problem(with secret: String, as kind: Kind, user: String = "") -> String? {
        switch kind {
        case .pin:
            let digits = secret.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
            return digits && (4...8).contains(secret.count) ? nil : "must be 4-8 digits"
        case .token:
            let safe = secret.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || "-._~".unicodeScalars.contains(scalar)
            }
            guard safe else { return "may hold only letters, digits, '-', '.', '_' and '~' (it goes into a URL)" }
            return secret.count >= minimumTokenLength ? nil : "must be at least \(minimumTokenLength) characters long, so that it cannot be guessed"
        case .password:
            if secret.isEmpty { return "is empty" }
            let scalars = secret.unicodeScalars
            if scalars.contains("\"") {
                return "contains a double quote (\"), which cannot be written safely into a 3proxy config; choose another password"
            }
            if scalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                return "contains a line break or another control character, which cannot be written safely into a 3proxy config; choose another password"
            }
            let most = ProxyLimits.passwordBytes(user: user)
            if secret.utf8.count > most {
                return "is \(secret.utf8.count) bytes; 3proxy cuts HTTP Basic's user:password at \(ProxyLimits.credentialBytes) bytes, "
                    + "so a password of user \(user) may have at most \(most)"
            }
            return nil
        }
    }

    private func checkPermissions(_ path: String, _ node: CheckedValue, into sink: inout DiagnosticSink) {
        let fullPath = SecretSource.absolute(path, baseDirectory: baseDirectory)
        var info = stat()
        guard lstat(fullPath, &info) == 0, info.st_mode & 0o077 != 0 else { return }
        let mode = PlainText.padded(info.st_mode & 0o7777, radix: 8, width: 4)
        sink.warning(node.location, node.path, "secret file \(path) can be read by group or others (mode \(mode)); run chmod 600 on it")
    }
}
