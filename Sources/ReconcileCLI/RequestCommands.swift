import ArgumentParser
import Drivers
import Reconciler

/// Options shared by `reconcile rotate` and `reconcile reset`.
struct RequestOptions: ParsableArguments {
    @Argument(help: "Names of the modems, as in farm.yaml.")
    var modems: [String]

    /// The root's options: `--state` names the state directory the daemon runs on.
    @OptionGroup var root: RootOptions
    var state: String { root.stateDirectory }

    /// Files one request per modem; every name is checked before anything is filed.
    func file(_ kind: ModemRequest.Kind) throws {
        guard !modems.isEmpty else { throw ValidationError("name at least one modem") }
        let requests = try modems.map { name throws(ModemRequestError) in try ModemRequest(kind: kind, modem: name) }
        let inbox = RequestInbox(stateDirectory: state)
        for request in requests {
            try inbox.file(request)
            print("\(request): filed in \(inbox.directory); a running `reconcile daemon` acts on it within seconds")
        }
    }
}

/// `reconcile rotate NAME…`: ask the daemon for a new public IP on these modems.
struct Rotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon to rotate modems (new public IP: low-power, online, reconnect).")
    @OptionGroup var options: RequestOptions
    func run() async throws { try options.file(.rotate) }
}

/// `reconcile reset NAME…`: ask the daemon for the full reset sequence on these modems.
struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon to reset modems (stop proxy traffic, disconnect, radio off and on, reconnect).")
    @OptionGroup var options: RequestOptions
    func run() async throws { try options.file(.reset) }
}
