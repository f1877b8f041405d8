import CNFTables
import Foundation
import Synchronization

/// nftables' own library (libnftables, what the `nft` tool runs on) in this process, so that
/// reading the guard every pass starts no process. A command runs in `namespace` when one is given
/// (`NetworkNamespace.run`); commands run one at a time, because the library keeps global state.
enum NFTablesLibrary {
    struct Output: Sendable {
        /// 0 when nftables did all of the command.
        var status: Int32
        var output: Data
        var errors: String
    }

    private static let oneAtATime = Mutex(())

    /// Runs `commands` (nft's language; several lines are one transaction) and collects what nft
    /// would print, as JSON with `json`. A namespace that cannot be entered fails like a command.
    static func run(_ commands: String, json: Bool, namespace: String?) -> Output {
        let path = namespace.map(NetworkNamespace.path(ofNamed:)) ?? "/proc/self/ns/net"
        switch NetworkNamespace.run(at: path, { oneAtATime.withLock { _ in runHere(commands, json: json) } }) {
        case .success(let output): return output
        case .failure(let failure): return Output(status: -1, output: Data(), errors: failure.message)
        }
    }

    private static func runHere(_ commands: String, json: Bool) -> Output {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            return Output(status: -1, output: Data(), errors: "libnftables could not make a context")
        }
        defer { nft_ctx_free(context) }
        if json { nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_JSON)) }
        _ = nft_ctx_buffer_output(context)
        _ = nft_ctx_buffer_error(context)
        let status = nft_run_cmd_from_buffer(context, commands)
        let output = nft_ctx_get_output_buffer(context).map { Data(bytes: $0, count: strlen($0)) } ?? Data()
        let errors = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        return Output(status: status, output: output, errors: errors)
    }
}
