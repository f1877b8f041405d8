import ArgumentParser
import Foundation
import Spec

/// Which modems of a multi-host farm this machine reconciles (DESIGN §9, `--host NAME`).
struct HostSelection {
    var name: String

    /// The machine's hostname up to its first dot: what `--host` defaults to.
    static var machineName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let full = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(full.prefix { $0 != "." })
    }

    /// A host that farm.yaml does not list reconciles nothing rather than tearing every modem
    /// down: a wrong hostname must not look like an empty farm.
    struct UnknownHost: Error {
        var host: String
        var hosts: [String]
        var message: String {
            "this host is '\(host)', which is not under hosts: (\(hosts.joined(separator: ", "))); name it with --host NAME"
        }
    }

    /// This host's part of a loaded farm.yaml (its diagnostics already printed by the caller);
    /// exit 1 when the file is invalid or does not list this host.
    func ownSpec(_ loaded: FarmLoadResult) throws(ExitCode) -> FarmSpec {
        guard let whole = loaded.spec else { throw ExitCode(1) }
        do {
            return try ownPart(of: whole)
        } catch {
            printError("reconcile: error: \(error.message)")
            throw ExitCode(1)
        }
    }

    /// The modems of farm.yaml that are this host's; all of them in a one-host farm.
    func ownPart(of spec: FarmSpec) throws(UnknownHost) -> FarmSpec {
        guard spec.hosts.isEmpty || spec.host(named: name) != nil else {
            throw UnknownHost(host: name, hosts: spec.hosts.map(\.name))
        }
        return spec.forHost(name)
    }
}
