import ArgumentParser
import Spec

/// `reconcile schema`: the JSON Schema of farm.yaml, for editors.
struct Schema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the JSON Schema (draft 2020-12) of farm.yaml.",
        discussion: "For yaml-language-server: save it and add '# yaml-language-server: $schema=farm.schema.json' to farm.yaml.")

    func run() async throws {
        print(FarmSchema.jsonSchema(), terminator: "")
    }
}
