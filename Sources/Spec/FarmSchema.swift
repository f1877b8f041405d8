/// JSON Schema (draft 2020-12) of farm.yaml for editors (yaml-language-server), generated from
/// `FarmKeys`, the same table the validator checks against.
public enum FarmSchema {
    public static func jsonSchema() -> String {
        guard case .object(var fields) = schema(for: FarmKeys.root) else { return "" }
        fields.insert(contentsOf: [
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("title", .string("ProxyFarm farm.yaml, version 1")),
        ], at: 0)
        return JSONValue.object(fields).pretty() + "\n"
    }

    static func schema(for type: ValueType) -> JSONValue {
        switch type {
        case .text(let format):
            var fields: [(String, JSONValue)] = [("type", .string("string"))]
            if let words = format.allowedWords { fields.append(("enum", .array(words.map(JSONValue.string)))) }
            if let pattern = format.pattern { fields.append(("pattern", .string(pattern))) }
            if let maxLength = format.maxLength { fields.append(("maxLength", .integer(maxLength))) }
            if format == .filePath || format == .secretText { fields.append(("minLength", .integer(1))) }
            if format == .ipAddress {
                fields.append(("anyOf", .array([.object([("format", .string("ipv4"))]), .object([("format", .string("ipv6"))])])))
            }
            return .object(fields)
        case .integer(let range) where range.count == 1:
            return .object([("const", .integer(range.lowerBound))])
        case .integer(let range):
            return .object([("type", .string("integer")), ("minimum", .integer(range.lowerBound)),
                            ("maximum", .integer(range.upperBound))])
        case .boolean:
            return .object([("type", .string("boolean"))])
        case .list(let element, let unique, let nonEmpty):
            var fields: [(String, JSONValue)] = [("type", .string("array")), ("items", schema(for: element))]
            if unique { fields.append(("uniqueItems", .bool(true))) }
            if nonEmpty { fields.append(("minItems", .integer(1))) }
            return .object(fields)
        case .object(let keys):
            var fields = objectFields(keys)
            let required = keys.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { fields.append(("required", .array(required))) }
            return .object(fields)
        case .oneOf(let keys, _):
            return .object(objectFields(keys) + [("minProperties", .integer(1)), ("maxProperties", .integer(1))])
        case .dictionary(let names, let values):
            return .object([("type", .string("object")), ("propertyNames", schema(for: .text(names))),
                            ("additionalProperties", schema(for: values))])
        case .wordOr(let word, let other):
            return .object([("anyOf", .array([.object([("const", .string(word))]), schema(for: other)]))])
        }
    }

    private static func objectFields(_ keys: [Key]) -> [(String, JSONValue)] {
        let properties = keys.map { key -> (String, JSONValue) in
            guard case .object(var fields) = schema(for: key.type) else { return (key.name, schema(for: key.type)) }
            fields.insert(("description", .string(key.doc)), at: 0)
            if let defaultValue = key.defaultValue { fields.append(("default", defaultValue)) }
            return (key.name, .object(fields))
        }
        return [("type", .string("object")), ("properties", .object(properties)), ("additionalProperties", .bool(false))]
    }
}
