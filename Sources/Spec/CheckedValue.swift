/// A value of farm.yaml that passed the structural checks of `FarmKeys`, with where it was written.
/// Values that failed are simply absent, so later checks never see them (and never pile up
/// follow-on errors about them).
struct CheckedValue: Sendable {
    indirect enum Kind: Sendable {
        case scalar(Scalar)
        case list([CheckedValue])
        /// A mapping: an `object`'s keys or a `dictionary`'s names.
        case mapping([String: CheckedValue])
        /// The one key given of a `oneOf` (or the word of a `wordOr`), with its value.
        case choice(String, CheckedValue)
    }

    var location: Location
    var path: String
    var kind: Kind
    /// Known keys the operator wrote in this mapping, valid or not: tells "missing" from "invalid".
    var writtenKeys: Set<String> = []

    subscript(key: String) -> CheckedValue? {
        guard case .mapping(let fields) = kind else { return nil }
        return fields[key]
    }

    var fields: [String: CheckedValue] {
        guard case .mapping(let fields) = kind else { return [:] }
        return fields
    }

    var list: [CheckedValue]? {
        guard case .list(let items) = kind else { return nil }
        return items
    }

    var choice: (key: String, value: CheckedValue)? {
        guard case .choice(let key, let value) = kind else { return nil }
        return (key, value)
    }

    var scalar: Scalar? {
        guard case .scalar(let scalar) = kind else { return nil }
        return scalar
    }

    var text: String? {
        guard case .text(let text) = scalar else { return nil }
        return text
    }

    var integer: Int? {
        guard case .integer(let value) = scalar else { return nil }
        return value
    }

    var boolean: Bool? {
        guard case .boolean(let value) = scalar else { return nil }
        return value
    }

    var duration: Duration? {
        guard case .duration(let value) = scalar else { return nil }
        return value
    }

    var bitsPerSecond: Int? {
        guard case .bitsPerSecond(let value) = scalar else { return nil }
        return value
    }

    var quota: Quota? {
        guard case .quota(let value) = scalar else { return nil }
        return value
    }

    var texts: [String]? { list?.compactMap(\.text) }

    /// `self` (a modem's value) laid over `base` (the defaults): mappings merge key by key,
    /// anything else (lists, choices, scalars) replaces the base whole.
    func overriding(_ base: CheckedValue?) -> CheckedValue {
        guard case .mapping(let own) = kind, let base, case .mapping(let inherited) = base.kind else { return self }
        var merged = inherited
        for (key, value) in own {
            merged[key] = value.overriding(inherited[key])
        }
        return CheckedValue(location: location, path: path, kind: .mapping(merged),
                            writtenKeys: writtenKeys.union(base.writtenKeys))
    }

    static func emptyMapping(path: String) -> CheckedValue {
        CheckedValue(location: .start, path: path, kind: .mapping([:]))
    }
}

/// Key paths as diagnostics show them: `modems[2].ports.http`.
enum KeyPath {
    static func child(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : parent + "." + key }
    static func item(_ parent: String, _ index: Int) -> String { parent + "[\(index)]" }
}
