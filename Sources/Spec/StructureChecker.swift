import Yams

/// Walks the YAML tree against `FarmKeys`, reporting unknown keys, wrong types, missing required
/// keys and malformed values, and keeping every value that passed.
struct StructureChecker {
    var sink: DiagnosticSink

    /// YAML aliases cannot blow this walk up ("billion laughs"): farm.yaml's keys nest only a few
    /// levels and no list holds lists, so nested aliases end in a type error, not an expansion.
    /// `secret`: nothing of this value may be echoed. Everything under `users.<name>` and any
    /// `pin` or `password` is secret (but a user's `quota`), also where farm.yaml is malformed (`bob: s3cret`).
    mutating func check(_ node: Node, as type: ValueType, path: String, secret inherited: Bool = false) -> CheckedValue? {
        let secret = (inherited || Self.holdsSecrets(path)) && !Self.isQuota(path)
        switch type {
        case .text(let format): return checkText(node, format, path, secret: secret)
        case .integer(let range): return checkInteger(node, range, path, secret: secret)
        case .boolean:
            guard case .scalar = node, node.tagName == .bool, let value = node.bool else {
                return typeError(node, type, path, secret: secret)
            }
            return CheckedValue(location: node.location, path: path, kind: .scalar(.boolean(value)))
        case .list(let element, let unique, let nonEmpty):
            return checkList(node, element, unique: unique, nonEmpty: nonEmpty, path, secret: secret)
        case .object(let keys):
            guard let fields = checkMapping(node, type, keys, path, secret: secret) else { return nil }
            let written = Set(node.mapping?.keys.compactMap(\.string) ?? []).intersection(keys.map(\.name))
            for key in keys where key.required && !written.contains(key.name) {
                sink.error(node.location, KeyPath.child(path, key.name), "required key is missing: \(key.doc)")
            }
            return CheckedValue(location: node.location, path: path, kind: .mapping(fields), writtenKeys: written)
        case .oneOf(let keys, let secretValues):
            return checkOneOf(node, type, keys, path, secret: secret || secretValues)
        case .dictionary(let names, let values):
            return checkDictionary(node, names, values, path, secret: secret)
        case .wordOr(let word, let other):
            if case .scalar = node, node.tagName == .str, node.string == word {
                let value = CheckedValue(location: node.location, path: path, kind: .scalar(.text(word)))
                return CheckedValue(location: node.location, path: path, kind: .choice(word, value))
            }
            guard case .mapping = node else { return typeError(node, type, path, secret: secret) }
            return check(node, as: other, path: path, secret: secret)
        }
    }

    private mutating func checkText(_ node: Node, _ format: TextFormat, _ path: String, secret: Bool) -> CheckedValue? {
        guard case .scalar(let scalar) = node, node.tagName == .str else {
            return typeError(node, .text(format), path, secret: secret || format.isSecret)
        }
        switch format.parse(scalar.string, secret: secret) {
        case .success(let value):
            return CheckedValue(location: node.location, path: path, kind: .scalar(value))
        case .failure(let problem):
            sink.error(node.location, path, problem.message)
            return nil
        }
    }

    private mutating func checkInteger(_ node: Node, _ range: ClosedRange<Int>, _ path: String, secret: Bool) -> CheckedValue? {
        guard case .scalar(let scalar) = node, node.tagName == .int, let value = PlainScalar.integer(scalar.string) else {
            return typeError(node, .integer(range), path, secret: secret)
        }
        guard range.contains(value) else {
            // Only `version` allows a single value.
            let message = range.count == 1
                ? "\(value) is not supported; this reconciler reads version \(range.lowerBound)"
                : "\(value) is outside \(range.lowerBound)-\(range.upperBound)"
            sink.error(node.location, path, message)
            return nil
        }
        return CheckedValue(location: node.location, path: path, kind: .scalar(.integer(value)))
    }

    private mutating func checkList(_ node: Node, _ element: ValueType, unique: Bool, nonEmpty: Bool,
                                    _ path: String, secret: Bool) -> CheckedValue? {
        guard case .sequence(let sequence) = node else {
            return typeError(node, .list(of: element, unique: unique, nonEmpty: nonEmpty), path, secret: secret)
        }
        if nonEmpty && sequence.isEmpty {
            sink.error(node.location, path, "the list is empty; expected at least one value")
            return nil
        }
        var items: [CheckedValue] = []
        for (index, itemNode) in sequence.enumerated() {
            guard let item = check(itemNode, as: element, path: KeyPath.item(path, index), secret: secret) else { continue }
            if unique, let first = items.first(where: { $0.scalar != nil && $0.scalar == item.scalar }) {
                sink.error(item.location, item.path, "'\(itemNode.string ?? "")' is listed twice (first at \(first.path))")
                continue
            }
            items.append(item)
        }
        return CheckedValue(location: node.location, path: path, kind: .list(items))
    }

    /// Checks a mapping's keys against `keys`, returning the values that passed.
    private mutating func checkMapping(_ node: Node, _ type: ValueType, _ keys: [Key], _ path: String,
                                       secret: Bool) -> [String: CheckedValue]? {
        guard case .mapping(let mapping) = node else {
            _ = typeError(node, type, path, secret: secret)
            return nil
        }
        var fields: [String: CheckedValue] = [:]
        for (keyNode, valueNode) in mapping {
            guard let name = keyName(keyNode, path, secret: secret) else { continue }
            guard let key = keys.first(where: { $0.name == name }) else {
                if secret {
                    let expected = keys.map(\.name).joined(separator: ", ")
                    sink.error(keyNode.location, path, "unknown key (not shown: it may hold a secret); expected one of: \(expected)")
                } else {
                    sink.error(keyNode.location, KeyPath.child(path, name), KeySuggestion.unknownKey(name, among: keys))
                }
                continue
            }
            if let value = check(valueNode, as: key.type, path: KeyPath.child(path, name), secret: secret) {
                fields[name] = value
            }
        }
        return fields
    }

    private mutating func checkOneOf(_ node: Node, _ type: ValueType, _ keys: [Key], _ path: String,
                                     secret: Bool) -> CheckedValue? {
        guard let fields = checkMapping(node, type, keys, path, secret: secret), let mapping = node.mapping else { return nil }
        let given = mapping.keys.filter { key in keys.contains { $0.name == key.string } }
        let names = keys.map(\.name).joined(separator: ", ")
        guard given.count == 1 else {
            if given.isEmpty {
                sink.error(node.location, path, "expected exactly one of \(names)")
            } else {
                let found = given.compactMap(\.string).joined(separator: " and ")
                sink.error(given[1].location, path, "give only one of \(names); found \(found)")
            }
            return nil
        }
        guard let name = given[0].string, let value = fields[name] else { return nil }
        return CheckedValue(location: node.location, path: path, kind: .choice(name, value))
    }

    private mutating func checkDictionary(_ node: Node, _ names: TextFormat, _ values: ValueType, _ path: String,
                                          secret: Bool) -> CheckedValue? {
        guard case .mapping(let mapping) = node else {
            return typeError(node, .dictionary(names: names, values: values), path, secret: secret)
        }
        var fields: [String: CheckedValue] = [:]
        for (keyNode, valueNode) in mapping {
            guard let name = keyName(keyNode, path, secret: secret) else { continue }
            if case .failure(let problem) = names.parse(name) {
                sink.error(keyNode.location, KeyPath.child(path, name), problem.message)
                continue
            }
            if var value = check(valueNode, as: values, path: KeyPath.child(path, name), secret: secret) {
                value.location = keyNode.location
                fields[name] = value
            }
        }
        return CheckedValue(location: node.location, path: path, kind: .mapping(fields))
    }

    private mutating func keyName(_ keyNode: Node, _ path: String, secret: Bool) -> String? {
        guard case .scalar(let scalar) = keyNode, keyNode.tagName == .str || keyNode.tagName == .bool else {
            sink.error(keyNode.location, path, "keys must be names, found \(Self.describe(keyNode, secret: secret))")
            return nil
        }
        return scalar.string
    }

    private mutating func typeError(_ node: Node, _ type: ValueType, _ path: String, secret: Bool) -> CheckedValue? {
        var message = "expected \(type.expectation), found \(Self.describe(node, secret: secret))"
        if case .scalar(let scalar) = node, node.tagName != .str, node.tagName != .null, case .text = type {
            message += secret ? "; put it in quotes" : "; put it in quotes: \"\(scalar.string)\""
        }
        sink.error(node.location, path, message)
        return nil
    }

    /// How a found node is named in a diagnostic; a secret's text is never shown.
    static func describe(_ node: Node, secret: Bool) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch node.tagName {
            case .null: return "no value"
            case .int, .float: return secret ? "a number" : "the number \(scalar.string)"
            case .bool: return secret ? "a boolean" : "the boolean \(scalar.string)"
            case .str: return secret ? "a text" : "'\(scalar.string)'"
            default: return secret ? "a value" : "'\(scalar.string)'"
            }
        }
    }
}

extension Node {
    var location: Location {
        guard let mark else { return .start }
        return Location(line: mark.line, column: mark.column)
    }
}

/// "did you mean …?" for unknown keys.
enum KeySuggestion {
    static func unknownKey(_ name: String, among keys: [Key]) -> String {
        let candidates = keys.map(\.name)
        if let near = candidates.min(by: { distance(name, $0) < distance(name, $1) }),
           distance(name, near) <= max(1, min(2, name.count / 3)) || near.lowercased() == name.lowercased() {
            return "unknown key '\(name)'; did you mean '\(near)'?"
        }
        for key in keys {
            if case .object(let nested) = key.type, nested.contains(where: { $0.name == name }) {
                return "unknown key '\(name)' here; it belongs under '\(key.name)' (\(key.name).\(name))"
            }
        }
        return "unknown key '\(name)'; expected one of: " + candidates.joined(separator: ", ")
    }

    /// Levenshtein distance, ignoring case.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension Node {
    /// The YAML tag (`str`, `int`, `bool`, `null`…): YAML 1.1 rules, as PyYAML and editors apply them (`PlainScalar`).
    /// farm.yaml is composed with Yams' rule-less resolver, so a plain scalar arrives here untagged; the one exception is a
    /// mapping key, which Yams already tagged `str` when it looked for duplicate keys (any key name is text here anyway).
    var tagName: Tag.Name {
        guard case .scalar(let scalar) = self else { return Tag.Name(rawValue: tag.rawValue) }
        switch Tag.Name(rawValue: scalar.tag.rawValue) {
        case .implicit: return PlainScalar.tag(of: scalar.string)
        case .nonSpecific: return .str
        case let name: return name
        }
    }
}

extension StructureChecker {
    /// Paths whose values may hold a secret: a user's entry, a PIN, a password.
    static func holdsSecrets(_ path: String) -> Bool {
        let parts = path.split(separator: ".").map { $0.split(separator: "[").first.map(String.init) ?? "" }
        return (parts.first == "users" && parts.count >= 2) || parts.contains("pin") || parts.contains("password")
    }

    /// `users.<name>.quota` holds no secret, so its errors may quote it.
    static func isQuota(_ path: String) -> Bool {
        let parts = path.split(separator: ".")
        return parts.count == 3 && parts[0] == "users" && parts[2] == "quota"
    }
}
