import Spec

/// A resolved secret (a SIM PIN). Its description is redacted so it can travel inside actions and
/// plans without ever being printed.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}

/// Why a secret could not be resolved, without the secret (e.g. `file secrets/bob not found`).
public struct SecretFailure: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// Resolves a secret source (file relative to farm.yaml, env, value); supplied by the CLI so the
/// core does no I/O outside the state directory.
public typealias SecretResolver = @Sendable (_ source: Spec.SecretSource) -> Result<String, SecretFailure>
