import Foundation
import Testing
import Yams

/// docs/api/openapi.yaml, and a check of responses against it: the status is declared for the
/// operation, the content type matches, and the JSON body fits the declared schema (the JSON
/// Schema keywords the document uses: type, enum, required, properties, additionalProperties,
/// items, minimum, $ref). Records which declared responses were seen, so a test can demand all.
final class OpenAPIDocument: @unchecked Sendable {
    private let root: [String: Any]
    private let lock = NSLock()
    private var seen: Set<String> = []

    init() throws {
        var directory = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("docs/api/openapi.yaml").path) {
            directory.deleteLastPathComponent()
        }
        let text = try String(contentsOf: directory.appendingPathComponent("docs/api/openapi.yaml"), encoding: .utf8)
        root = try Yams.load(yaml: text) as? [String: Any] ?? [:]
    }

    /// Every declared response as `METHOD TEMPLATE STATUS`.
    var declared: Set<String> {
        var all: Set<String> = []
        for (template, item) in paths {
            for (method, operation) in item where ["get", "post"].contains(method) {
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                for status in responses.keys {
                    all.insert("\(method.uppercased()) \(template) \(status)")
                }
            }
        }
        return all
    }

    var covered: Set<String> { lock.withLock { seen } }

    private var paths: [String: [String: Any]] {
        (root["paths"] as? [String: Any] ?? [:]).compactMapValues { $0 as? [String: Any] }
    }

    /// The template a concrete path matches: literal segments first, the catch-all last.
    func template(for path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let candidates = paths.keys.filter { template in
            let pattern = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            return pattern.count == parts.count && zip(pattern, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        return candidates.min { $0.filter { $0 == "{" }.count < $1.filter { $0 == "{" }.count }
    }

    /// Fails the test when the response is not what the document declares for the request.
    func check(method: String, path: String, status: Int, contentType: String?, body: [UInt8],
               sourceLocation: SourceLocation = #_sourceLocation) {
        // Paths and methods the document does not list get the refusals its description promises.
        let matched = template(for: path)
        guard let template = matched, let operation = paths[template]?[method.lowercased()] as? [String: Any] else {
            let methods = matched.flatMap { paths[$0] }.map { Set($0.keys).intersection(["get", "post"]) } ?? []
            let expected = methods.isEmpty ? 404 : 405
            #expect(status == expected || status == 429, "\(method) \(path): \(status)", sourceLocation: sourceLocation)
            let error = try? JSONDecoder().decode(JSON.self, from: Data(body))
            for problem in validate(error ?? .null, against: ["$ref": "#/components/schemas/Error"], at: "$") {
                Issue.record("\(method) \(path) \(status): \(problem)", sourceLocation: sourceLocation)
            }
            return
        }
        let responses = operation["responses"] as? [String: Any] ?? [:]
        guard var response = responses[String(status)] as? [String: Any] else {
            Issue.record("\(method) \(template) answered \(status), which the document does not declare", sourceLocation: sourceLocation)
            return
        }
        lock.withLock { _ = seen.insert("\(method) \(template) \(status)") }
        response = resolve(response)
        guard let content = response["content"] as? [String: Any] else {
            #expect(body.isEmpty, "\(method) \(template) \(status) declares no body", sourceLocation: sourceLocation)
            return
        }
        let type = (contentType ?? "").split(separator: ";").first.map(String.init) ?? ""
        guard let media = content[type] as? [String: Any] else {
            Issue.record("\(method) \(template) \(status): content type \(type) is not declared", sourceLocation: sourceLocation)
            return
        }
        guard type == "application/json", let schema = media["schema"] else { return }
        do {
            let value = try JSONDecoder().decode(JSON.self, from: Data(body))
            for problem in validate(value, against: schema, at: "$") {
                Issue.record("\(method) \(template) \(status): \(problem)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("\(method) \(template) \(status): body is not JSON: \(String(decoding: body, as: UTF8.self))", sourceLocation: sourceLocation)
        }
    }

    private func resolve(_ node: [String: Any]) -> [String: Any] {
        guard let reference = node["$ref"] as? String else { return node }
        var target: Any = root
        for key in reference.dropFirst(2).split(separator: "/") { target = (target as? [String: Any])?[String(key)] ?? [:] }
        return resolve(target as? [String: Any] ?? [:])
    }

    func validate(_ value: JSON, against schemaNode: Any, at path: String) -> [String] {
        let schema = resolve(schemaNode as? [String: Any] ?? [:])
        var problems: [String] = []
        if let type = schema["type"] as? String, !value.has(type: type) {
            return ["\(path): expected \(type), got \(value)"]
        }
        if let allowed = schema["enum"] as? [Any], !allowed.contains(where: { "\($0)" == value.text }) {
            problems.append("\(path): \(value) is not one of \(allowed)")
        }
        if let minimum = schema["minimum"] as? Int, case .number(let number) = value, number < Double(minimum) {
            problems.append("\(path): \(number) < \(minimum)")
        }
        if case .object(let object) = value {
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(path): \(key) is missing") }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, member) in object {
                if let property = properties[key] {
                    problems += validate(member, against: property, at: path + "." + key)
                } else if let additional = schema["additionalProperties"] {
                    if let allowed = additional as? Bool, !allowed { problems.append("\(path): \(key) is not declared") }
                    if additional is [String: Any] { problems += validate(member, against: additional, at: path + "." + key) }
                }
            }
        }
        if case .array(let array) = value, let items = schema["items"] {
            for (index, item) in array.enumerated() { problems += validate(item, against: items, at: "\(path)[\(index)]") }
        }
        return problems
    }
}

/// A JSON value that keeps booleans apart from numbers (JSONDecoder never turns one into the other).
enum JSON: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSON]), object([String: JSON])

    init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let value = try? single.decode(Bool.self) { self = .bool(value) }
        else if let value = try? single.decode(Double.self) { self = .number(value) }
        else if let value = try? single.decode(String.self) { self = .string(value) }
        else if let value = try? single.decode([JSON].self) { self = .array(value) }
        else { self = .object(try single.decode([String: JSON].self)) }
    }

    func has(type: String) -> Bool {
        switch (type, self) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number): true
        case ("integer", .number(let value)): value.rounded() == value
        default: false
        }
    }

    /// Scalars as the YAML document writes enum values.
    var text: String {
        switch self {
        case .string(let value): value
        case .bool(let value): value ? "true" : "false"
        case .number(let value): value.rounded() == value ? String(Int(value)) : String(value)
        default: "\(self)"
        }
    }

    subscript(key: String) -> JSON? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }
}
