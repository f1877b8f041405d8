/// A one-shot operator request for one modem, filed as `state/requests/<kind>-<modem>`
/// by `reconcile rotate|reset NAME` and consumed by the pass that acts on it (DESIGN §4).
/// The file's name is the whole request, so filing one twice is the same as filing it once.
public struct ModemRequest: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// New public IP: low-power, online, reconnect (DESIGN §6).
        case rotate
        /// Full reset sequence, as after repeated health failures.
        case reset
    }

    public var kind: Kind
    public var modem: String

    /// Refuses modem names that could not be a request file name (path separators, dots, ...).
    public init(kind: Kind, modem: String) throws(ModemRequestError) {
        guard Self.isValidModemName(modem) else { throw .invalidModemName(modem) }
        self.kind = kind
        self.modem = modem
    }

    /// Parses a file name such as `rotate-m01`; nil for anything else (editor temp files, etc.).
    public init?(fileName: String) {
        for kind in Kind.allCases {
            let prefix = kind.rawValue + "-"
            guard fileName.hasPrefix(prefix) else { continue }
            guard let request = try? ModemRequest(kind: kind, modem: String(fileName.dropFirst(prefix.count))) else { return nil }
            self = request
            return
        }
        return nil
    }

    public var fileName: String { "\(kind.rawValue)-\(modem)" }

    /// Whether `action` is what this request asks for: a rotation (or a reset, which also gives a
    /// new address) for `rotate`; a reset, or the PIN retry only a reset request allows, for `reset`.
    public func isAnswered(by action: PlannedAction) -> Bool {
        guard action.modem == modem else { return false }
        switch (kind, action.kind) {
        case (.rotate, .rotate), (.rotate, .reset), (.reset, .reset), (.reset, .unlockSIM): return true
        default: return false
        }
    }
    public var description: String { "\(kind.rawValue) \(modem)" }

    /// The same rule as farm.yaml modem names: a safe file name and metrics label.
    public static func isValidModemName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 64, isLetterOrDigit(first) else { return false }
        return scalars.allSatisfy { isLetterOrDigit($0) || $0 == "_" || $0 == "-" }
    }

    private static func isLetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}

public enum ModemRequestError: OperatorFacingError, Equatable, CustomStringConvertible {
    case invalidModemName(String)

    public var reason: String { "InvalidModemName" }
    public var description: String { message }
    public var message: String {
        switch self {
        case .invalidModemName(let name):
            "'\(name)' is not a modem name: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters"
        }
    }
}
