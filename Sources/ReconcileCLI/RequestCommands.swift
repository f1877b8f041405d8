import ArgumentParser
import Foundation
import Logging
import Reconciler
import Spec

/// Options shared by `reconcile rotate` and `reconcile reset`.
struct RequestOptions: ParsableArguments {
    @Argument(help: "Names of the modems, as in farm.yaml.")
    var modems: [String]

    @Flag(help: "Do it now in this process when no daemon runs on the state directory (else the request is filed for the daemon).")
    var now = false

    /// The root's options: `--state` names the state directory the daemon runs on, `--file`,
    /// `--simulated` and the rest serve `--now`.
    @OptionGroup var root: RootOptions

    func run(_ kind: ModemRequest.Kind) async throws {
        guard !modems.isEmpty else { throw ValidationError("name at least one modem") }
        let requests = try modems.map { name throws(ModemRequestError) in try ModemRequest(kind: kind, modem: name) }
        let (_, spec) = try FarmLocation.load(root.file)
        let listed = spec.modems.map(\.name)
        let unknown = requests.map(\.modem).filter { !listed.contains($0) }
        guard unknown.isEmpty else {
            printError("reconcile: error: \(root.file) lists no modem \(unknown.joined(separator: ", ")); it lists \(listed.isEmpty ? "none" : listed.joined(separator: ", ")). Nothing was filed.")
            throw ExitCode(1)
        }
        guard now else { return try file(requests) }
        let store: StateStore
        do {
            store = try StateStore(root: root.absoluteStateDirectory)
        } catch {
            guard error.reason == "StateLocked" else { throw error }
            print("a daemon holds the state directory (\(error.message)); filing the request for it instead")
            return try file(requests)
        }
        try await RequestNow(options: root, store: store).run(requests)
    }

    /// Files one request per modem for the daemon; every name was checked before.
    private func file(_ requests: [ModemRequest]) throws {
        let inbox = RequestInbox(stateDirectory: root.stateDirectory)
        for request in requests {
            try inbox.file(request)
            print("\(request): filed in \(inbox.directory); a running `reconcile daemon` acts on it within seconds")
        }
    }
}

/// `rotate|reset --now` with no daemon: files the requests, runs one pass under the lock and says
/// what came of each (for a rotation: the old and new address, or that the carrier gave the same
/// one back). A request its modem could not act on stays filed for the next pass.
struct RequestNow {
    var options: RootOptions
    var store: StateStore

    func run(_ requests: [ModemRequest]) async throws {
        let loaded = FarmFile.load(path: options.file)
        let spec = try HostSelection(name: options.host).ownSpec(loaded)
        let listed = Dictionary(spec.modems.map { ($0.name, $0.serial) }, uniquingKeysWith: { first, _ in first })
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let before = try store.loadMemory()
        for request in requests { try store.requests.file(request) }
        let backend = try await Backend(options)
        let reconciler = FarmReconciler(drivers: backend.drivers, settings: ExecutorSettings(batch: options.batch))
        let secrets = secretResolver(relativeTo: options.file)
        let revision = Revision.of(file: options.file, bytes: Data(loaded.source.utf8))
        let (result, _) = try await backend.closingModems {
            try await backend.apply(reconciler, spec: spec, store: store, secrets: secrets, revision: revision)
        }
        var allDone = true
        for request in requests {
            let serial = listed[request.modem] ?? ""
            let line = Self.outcome(request, result: result, before: before[serial], after: result.memory[serial])
            allDone = allDone && line.done
            print(line.text)
        }
        if !allDone { throw ExitCode(1) }
    }

    /// One line per request: `m02: rotated: 100.64.2.10 → 100.64.2.11`, `m02: rotated: same IP …`.
    static func outcome(_ request: ModemRequest, result: PassResult, before: ModemMemory?, after: ModemMemory?) -> (text: String, done: Bool) {
        let name = request.modem
        let verb = request.kind == .rotate ? "rotated" : "reset"
        guard result.answeredRequests.contains(request) else {
            let why = result.remaining.deferred[name] ?? "\(name) cannot be acted on now (not plugged in, not connected or disabled)"
            return ("\(name): not \(verb): \(why); the request stays filed for the next pass", false)
        }
        if let failed = result.applied.first(where: { request.isAnswered(by: $0.action) && $0.failure != nil }), let failure = failed.failure {
            return ("\(name): \(verb) failed: \(failure.reason): \(failure.message)", false)
        }
        let old = before?.lastAddress ?? "no address"
        guard let new = after?.session != nil ? after?.lastAddress : nil else {
            return ("\(name): \(verb), but it has not reconnected yet (was \(old)); see `reconcile status`", false)
        }
        if old == new { return ("\(name): \(verb): same IP \(new) (the carrier handed the same address back)", true) }
        return ("\(name): \(verb): \(old) → \(new)", true)
    }
}

/// `reconcile rotate NAME…`: a new public IP on these modems.
struct Rotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rotate modems (new public IP: low-power, online, reconnect): ask the daemon, or do it now with --now.")
    @OptionGroup var options: RequestOptions
    func run() async throws { try await options.run(.rotate) }
}

/// `reconcile reset NAME…`: the full reset sequence on these modems.
struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reset modems (stop proxy traffic, disconnect, radio off and on, reconnect): ask the daemon, or do it now with --now.")
    @OptionGroup var options: RequestOptions
    func run() async throws { try await options.run(.reset) }
}
