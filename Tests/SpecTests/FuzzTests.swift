import Foundation
import Testing
@testable import Spec

/// Bad input never traps: mutated variants of the example end in diagnostics or a spec.
@Suite struct FuzzTests {
    /// A small deterministic generator, so a failing variant can be reproduced from its number.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    enum Mutation: CaseIterable {
        case deleteLine, shiftIndentation, swapIndentation, randomCharacters, truncate, duplicateLine
    }

    static let noise: [Character] = Array("azAZ09 :-{}[],\"'#&*!|>%@`\t\\/.") + ["\u{0}", "\u{7}", "\u{1B}", "é", "\u{FEFF}", "🛰", "\r", "\n"]

    static func mutate(_ text: String, _ mutation: Mutation, using rng: inout SplitMix64) -> String {
        var lines = text.components(separatedBy: "\n")
        let index = Int.random(in: 0..<lines.count, using: &rng)
        switch mutation {
        case .deleteLine:
            lines.remove(at: index)
        case .shiftIndentation:
            let shift = Int.random(in: 1...4, using: &rng)
            lines[index] = Bool.random(using: &rng)
                ? String(repeating: " ", count: shift) + lines[index]
                : String(lines[index].dropFirst(min(shift, lines[index].prefix { $0 == " " }.count)))
        case .swapIndentation:
            let other = Int.random(in: 0..<lines.count, using: &rng)
            let indent = { (line: String) in line.prefix { $0 == " " } }
            let (a, b) = (lines[index], lines[other])
            lines[index] = String(indent(b) + a.drop { $0 == " " })
            lines[other] = String(indent(a) + b.drop { $0 == " " })
        case .randomCharacters:
            var characters = Array(text)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                characters[Int.random(in: 0..<characters.count, using: &rng)] = noise.randomElement(using: &rng) ?? " "
            }
            return String(characters)
        case .truncate:
            return String(text.prefix(Int.random(in: 0..<text.count, using: &rng)))
        case .duplicateLine:
            lines.insert(lines[index], at: index)
        }
        return lines.joined(separator: "\n")
    }

    @Test func mutatedExamplesEndInDiagnosticsOrASpec() throws {
        let example = try String(contentsOfFile: examplePath, encoding: .utf8)
        let base = repositoryRoot.appendingPathComponent("examples").path
        var rng = SplitMix64(state: 20_260_101)
        var outcomes = (valid: 0, invalid: 0)
        for number in 0..<300 {
            let mutation = Mutation.allCases[number % Mutation.allCases.count]
            let variant = Self.mutate(example, mutation, using: &rng)
            let result = FarmFile.parse(yaml: variant, file: "farm.yaml", baseDirectory: base, environment: [:])
            let lineCount = variant.components(separatedBy: .newlines).count
            if result.spec == nil {
                outcomes.invalid += 1
                #expect(!result.errors.isEmpty, "variant \(number) (\(mutation)): no spec but no error")
            } else {
                outcomes.valid += 1
                #expect(result.errors.isEmpty, "variant \(number) (\(mutation)): a spec despite errors")
            }
            for diagnostic in result.diagnostics {
                #expect(diagnostic.line >= 1 && diagnostic.line <= lineCount + 1 && diagnostic.column >= 1,
                        "variant \(number) (\(mutation)): \(diagnostic)")
                for secret in ["carol-example-password", "alice-example-password", "ZQIW7vhM700KNCzIIiVXE0"] {
                    #expect(!diagnostic.description.contains(secret), "variant \(number) (\(mutation)) shows a secret")
                }
            }
            let positions = result.diagnostics.map { [$0.line, $0.column] }
            #expect(positions == positions.sorted { $0.lexicographicallyPrecedes($1) }, "variant \(number): unsorted")
        }
        // Both outcomes occur, so the mutations neither always break nor never touch the file.
        #expect(outcomes.valid > 0 && outcomes.invalid > 100, "\(outcomes)")
    }
}
