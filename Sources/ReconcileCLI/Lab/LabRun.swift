import ArgumentParser
import Foundation

/// `reconcile lab run`: the real reconciler inside the lab — in the farm's network namespace and
/// the lab host's mount namespace, where its /sys, /dev and /run/udev show the simulated modems —
/// against the lab's farm.yaml and state directory.
struct LabRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the reconciler inside a lab (one pass, or the arguments after --, e.g. `-- daemon`, `-- --dry-run`).",
        discussion: LabProxyOption.discussion + "\n" + LabOptions.hostDiscussion)

    @OptionGroup var lab: LabOptions

    static let defaultRotation = "10m"

    @Option(help: "Rotation interval of the lab's last modem, when farm.yaml is first written.")
    var rotateEvery = defaultRotation

    @Argument(parsing: .postTerminator, help: "Arguments for `reconcile` (subcommand and options).")
    var arguments: [String] = []

    func run() throws {
        try lab.requireRoot("lab run")
        let command = try LabReconciler(lab: lab, proxyBinary: lab.requestedProxy, rotateEvery: rotateEvery).command(arguments)
        // Said when the lab chose; with --proxy-binary the caller already knows.
        if lab.requestedProxy == nil { printError("lab \(lab.name): \(command.proxyNote)") }
        try command.exec()
    }
}

/// Builds the command line that runs `reconcile` inside a lab.
struct LabReconciler {
    let lab: LabOptions
    let proxyBinary: String?
    let rotateEvery: String

    struct Command {
        var argv: [String]
        /// Set for the reconciler: where the lab's farm is (`FarmLocation`), so every subcommand
        /// finds it and an explicit --file or --state still wins; and libudev's sysfs check off,
        /// which refuses a /sys that is not sysfs (the lab's is a tmpfs).
        var environment: [String: String]
        var proxyNote: String
        /// Where it runs (the gateway's default `farm.yaml` and `gateway-state` are the lab's); nil = here.
        var workingDirectory: String? = nil

        /// Replaces this process, so that a signal to it reaches the reconciler itself.
        func exec() throws -> Never {
            for (key, value) in environment { setenv(key, value, 1) }
            if let workingDirectory, chdir(workingDirectory) != 0 {
                throw LabError.io(operation: "enter", path: workingDirectory, detail: String(cString: strerror(errno)))
            }
            let pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            execv(argv[0], pointers)
            throw LabError.io(operation: "run", path: argv[0], detail: String(cString: strerror(errno)))
        }
    }

    func command(_ arguments: [String]) throws(LabError) -> Command {
        let files = lab.files
        let farm = LabFarm(files: LabFiles(directory: lab.directory))
        let topology = try farm.topology(name: lab.name)
        try farm.prepare(topology, rotationEvery: rotateEvery)
        let machine = try topology.machine(lab.host)
        let chosenByUp = (try? String(contentsOfFile: files.proxyBinary, encoding: .utf8))
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        let (proxy, note) = try proxyBinary == nil && chosenByUp != nil
            ? (Self.proxy(chosenByUp).0, "proxy: \(chosenByUp ?? "") (as `lab up` chose)")
            : Self.proxy(proxyBinary)
        let me: String
        do {
            me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        } catch {
            throw .io(operation: "resolve", path: "/proc/self/exe", detail: error.localizedDescription)
        }
        if machine.host == LabTopology.gatewayHostName {
            // The gateway has no modems and no lab host: its network namespace only.
            let argv = [try CommandRunner.locate("ip"), "netns", "exec", machine.namespace, me] + arguments
            return Command(argv: argv, environment: ["PROXYFARM_FILE": files.farmFile, "PROXYFARM_STATE": farm.gatewayStateDirectory],
                           proxyNote: note, workingDirectory: lab.directory)
        }
        guard let host = LabHostProcess(files: files, namespace: machine.namespace).runningPid() else {
            throw .io(operation: "read", path: files.hostPid, detail: "no lab host is running: run `reconcile lab up` first")
        }
        let environment = ["SYSTEMD_DEVICE_VERIFY_SYSFS": "0", "PROXYFARM_FILE": files.farmFile, "PROXYFARM_STATE": files.stateDirectory,
                           "PROXYFARM_PROXY_BINARY": proxy, "PROXYFARM_RUNTIME_DIR": files.stateDirectory + "/run"]
        // nsenter is single-threaded, as joining a mount namespace requires; it keeps the working directory.
        let argv = [try CommandRunner.locate("nsenter"), "--target", String(host), "--mount", "--net",
                    "--wd=" + FileManager.default.currentDirectoryPath, me] + arguments
        return Command(argv: argv, environment: environment, proxyNote: note)
    }

    /// The proxy binary and a plain sentence saying which one runs.
    static func proxy(_ requested: String?) throws(LabError) -> (String, String) {
        if let requested {
            guard access(requested, X_OK) == 0 else { throw .io(operation: "run", path: requested, detail: "not an executable file") }
            return (requested, "proxy: \(requested) (--proxy-binary)")
        }
        if let installed = try? CommandRunner.locate("3proxy") {
            return (installed, "proxy: the installed 3proxy at \(installed)")
        }
        guard let standIn = standIn() else {
            throw .toolMissing("3proxy (and no checkout with Tests/Support/3proxy-standin next to this executable)")
        }
        return (standIn, "proxy: no 3proxy installed, using the test stand-in \(standIn) (python3)")
    }

    /// Tests/Support/3proxy-standin of the checkout this executable was built in (`.build/…/reconcile`).
    static func standIn() -> String? {
        guard var directory = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        while directory != "/" && !directory.isEmpty {
            directory = (directory as NSString).deletingLastPathComponent
            let candidate = directory + "/Tests/Support/3proxy-standin"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
