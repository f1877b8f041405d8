/// A regular expression of the small dialect farm.yaml's patterns use: the JSON Schema's `pattern`s (`TextFormat`) and
/// YAML 1.1's tag rules (`PlainScalar`). `^` and `$` (the very start and end), literals and `\` escapes, classes
/// `[a-z_-]` with `^` negation and `\s`, `\s` and `\d`, groups `( )` and `(?: )` with `|`, and `? * + {n} {m,} {m,n}`.
/// A pattern outside the dialect does not compile and matches nothing (a test compiles them all, and checks them
/// against ICU's matcher).
///
/// Matched here by backtracking over Unicode scalars. Not NSRegularExpression or the standard library's Regex: those
/// bring ICU's regex engine, or Swift's regex parser and engine, into every process that reads farm.yaml, and their
/// code would stay in the long-running daemon's memory for a few short anchored patterns.
struct Pattern: Sendable {
    private indirect enum Node: Sendable {
        case start, end
        case scalars(Set<Unicode.Scalar>, ranges: [ClosedRange<Unicode.Scalar>], space: Bool, negated: Bool)
        case group([[Node]])
        case repetition(Node, min: Int, max: Int)
    }

    private let alternatives: [[Node]]?

    init(_ source: String) {
        var parser = Parser(scalars: Array(source.unicodeScalars))
        let parsed = parser.alternatives()
        alternatives = !parser.failed && parser.index == parser.scalars.count ? parsed : nil
    }

    var compiles: Bool { alternatives != nil }

    /// Longer texts match nothing, and a group repeats at most `mostGroupRepeats` times (a repetition of a group recurses
    /// once per round), so that no input can make the backtracking deep: farm.yaml's values are far shorter.
    static let longestText = 4096
    static let mostGroupRepeats = 64

    /// Whether the pattern matches somewhere in `text` (anchors say where).
    func matches(_ text: String) -> Bool {
        guard let alternatives else { return false }
        let scalars = Array(text.unicodeScalars)
        guard scalars.count <= Self.longestText else { return false }
        return (0...scalars.count).contains { start in
            Self.match(.group(alternatives), scalars, start) { _ in true }
        }
    }

    private static func match(_ node: Node, _ text: [Unicode.Scalar], _ at: Int, _ then: (Int) -> Bool) -> Bool {
        switch node {
        case .start: return at == 0 && then(at)
        case .end: return at == text.count && then(at)
        case let .scalars(set, ranges, space, negated):
            guard at < text.count else { return false }
            let scalar = text[at]
            let inside = set.contains(scalar) || ranges.contains { $0.contains(scalar) } || (space && scalar.properties.isWhitespace)
            return inside != negated && then(at + 1)
        case .group(let alternatives):
            return alternatives.contains { sequence($0[...], text, at, then) }
        case let .repetition(.scalars(set, ranges, space, negated), min, max):
            // One scalar per step: take as many as match, then give them back one by one (greedy, without recursion).
            var end = at
            while end - at < max, match(.scalars(set, ranges: ranges, space: space, negated: negated), text, end, { _ in true }) { end += 1 }
            guard end - at >= min else { return false }
            return stride(from: end, through: at + min, by: -1).contains { then($0) }
        case let .repetition(node, min, max):
            func repeated(_ count: Int, _ position: Int) -> Bool {
                if count < Swift.min(max, Pattern.mostGroupRepeats), match(node, text, position, { $0 != position && repeated(count + 1, $0) }) {
                    return true
                }
                return count >= min && then(position)
            }
            return repeated(0, at)
        }
    }

    private static func sequence(_ nodes: ArraySlice<Node>, _ text: [Unicode.Scalar], _ at: Int, _ then: (Int) -> Bool) -> Bool {
        guard let first = nodes.first else { return then(at) }
        return match(first, text, at) { sequence(nodes.dropFirst(), text, $0, then) }
    }

    /// Recursive descent; any construct outside the dialect stops it and marks it failed.
    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0
        var failed = false

        private var next: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        private mutating func take(_ scalar: Unicode.Scalar) -> Bool {
            guard next == scalar else { return false }
            index += 1
            return true
        }

        mutating func alternatives() -> [[Node]] {
            var result = [sequence()]
            while take("|") { result.append(sequence()) }
            return result
        }

        private mutating func sequence() -> [Node] {
            var nodes: [Node] = []
            while let scalar = next, scalar != "|", scalar != ")" {
                guard let atom = atom() else {
                    failed = true
                    return nodes
                }
                nodes.append(quantified(atom))
            }
            return nodes
        }

        private mutating func atom() -> Node? {
            guard let scalar = next else { return nil }
            index += 1
            switch scalar {
            case "^": return .start
            case "$": return .end
            case "(":
                _ = take("?") && take(":")
                let group = alternatives()
                return take(")") ? .group(group) : nil
            case "[": return scalarClass()
            case "\\": return escaped()
            case ".", "*", "+", "?", "{", "}", "]": index -= 1; return nil
            default: return .scalars([scalar], ranges: [], space: false, negated: false)
            }
        }

        private mutating func escaped() -> Node? {
            guard let scalar = next else { return nil }
            index += 1
            switch scalar {
            case "s": return .scalars([], ranges: [], space: true, negated: false)
            case "d": return .scalars([], ranges: ["0"..."9"], space: false, negated: false)
            case "t": return .scalars(["\t"], ranges: [], space: false, negated: false)
            case "n": return .scalars(["\n"], ranges: [], space: false, negated: false)
            case _ where scalar.properties.isAlphabetic || scalar.properties.numericType != nil: index -= 2; return nil
            default: return .scalars([scalar], ranges: [], space: false, negated: false)
            }
        }

        private mutating func scalarClass() -> Node? {
            let negated = take("^")
            var set = Set<Unicode.Scalar>(), ranges: [ClosedRange<Unicode.Scalar>] = [], space = false
            while let scalar = next, scalar != "]" {
                index += 1
                var low = scalar
                if scalar == "\\" {
                    guard case let .scalars(escapedSet, escapedRanges, escapedSpace, _) = escaped() else { return nil }
                    space = space || escapedSpace
                    ranges += escapedRanges
                    guard let only = escapedSet.first else { continue }
                    low = only
                }
                if next == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                    index += 1
                    guard let high = next, high != "\\", low <= high else { return nil }
                    index += 1
                    ranges.append(low...high)
                } else {
                    set.insert(low)
                }
            }
            return take("]") ? .scalars(set, ranges: ranges, space: space, negated: negated) : nil
        }

        private mutating func quantified(_ atom: Node) -> Node {
            switch next {
            case "?": index += 1; return .repetition(atom, min: 0, max: 1)
            case "*": index += 1; return .repetition(atom, min: 0, max: .max)
            case "+": index += 1; return .repetition(atom, min: 1, max: .max)
            case "{":
                let mark = index
                index += 1
                let low = number()
                let high = take(",") ? (number() ?? .max) : low
                guard let low, let high, low <= high, take("}") else { index = mark; return atom }
                return .repetition(atom, min: low, max: high)
            default: return atom
            }
        }

        private mutating func number() -> Int? {
            let start = index
            while let scalar = next, ("0"..."9").contains(scalar) { index += 1 }
            return index > start ? Int(String(String.UnicodeScalarView(scalars[start..<index]))) : nil
        }
    }
}
