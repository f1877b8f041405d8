import ArgumentParser
import Foundation

/// `reconcile lab`: a farm of simulated modems in network namespaces (docs/lab.md).
struct Lab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build or remove a lab farm of simulated modems in network namespaces (root).",
        subcommands: [LabUp.self, LabDown.self, LabRun.self, LabDemo.self, LabPlug.self, LabUnplug.self, LabFault.self, LabMove.self,
                      LabModem.self, LabHost.self])
}

/// `--proxy-binary PATH` of `lab up|run|demo`. The root command declares the same option and
/// ArgumentParser hands the value to the root's group wherever it is written, so it is read
/// from a (hidden) copy of that group; its default `3proxy` means "an installed 3proxy, else
/// the test stand-in".
struct LabProxyOption: ParsableArguments {
    @OptionGroup(visibility: .hidden) var root: RootOptions

    static let discussion = "--proxy-binary PATH: the proxy to run (default: an installed 3proxy, else the test stand-in)."

    var requested: String? { root.proxyBinary == FarmLocation.proxyBinary ? nil : root.proxyBinary }
}

/// Which lab: its namespace prefix and its directory.
struct LabOptions: ParsableArguments {
    @Option(help: "Prefix of the lab's network namespaces (<name>-farm, <name>-inet); lets several labs coexist.")
    var name = "pf"

    @Option(help: "The lab's own directory (server, lab host, farm.yaml, state). Default: /run/proxyfarm-lab/<name>.")
    var dir: String?

    /// `--proxy-binary` and `--host` are the root's options (see `LabProxyOption`), read from here.
    @OptionGroup(visibility: .hidden) var root: RootOptions

    /// `--host host-K|gateway` in a multi-host lab (`lab up --hosts`): the machine meant; nil = the one host.
    var host: String? { root.host == HostSelection.machineName ? nil : root.host }
    var requestedProxy: String? { root.proxyBinary == FarmLocation.proxyBinary ? nil : root.proxyBinary }
    static let hostDiscussion = "--host host-K|gateway: in a multi-host lab, the machine meant (lab run, plug, unplug, fault, move)."

    var directory: String { dir ?? "/run/proxyfarm-lab/\(name)" }
    /// The options that name this lab again in a hint: `--name`, and `--dir` when not the default.
    var selection: String { "--name \(name)" + (dir.map { " --dir \($0)" } ?? "") }
    var files: LabFiles { LabFiles(directory: directory, host: host) }

    func requireRoot(_ command: String) throws(LabError) {
        guard geteuid() == 0 else { throw .needsRoot(command: command) }
    }
}

struct LabUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create (or complete) the lab: namespaces, one veth modem per --modems, the uplink and the what-is-my-IP server.",
        discussion: LabProxyOption.discussion + """

            --hosts H: a multi-host farm (DESIGN §9): H farm hosts with --modems modems each, every host running \
            `reconcile daemon --host host-K` and `reconcile serve`, and a gateway running `reconcile gateway daemon` (HAProxy).
            """)

    @OptionGroup var lab: LabOptions

    @Option(help: "Number of modems (per host with --hosts): wwan1…wwanN, each with the carrier network 100.64.N.0/24.")
    var modems = 3

    @Option(help: "Build a multi-host farm: this many farm hosts (host-1…) and a gateway on one lab network.")
    var hosts: Int?

    func run() async throws {
        let topology = try LabTopology(name: lab.name, modems: modems, hosts: hosts)
        try lab.requireRoot("lab up")
        let farm = LabFarm(files: LabFiles(directory: lab.directory))
        let previous = try? farm.topology(name: lab.name)
        if let previous, previous.hosts != topology.hosts || (topology.hosts != nil && previous != topology) {
            throw LabError.io(operation: "change", path: lab.directory,
                              detail: "this lab was built with another layout: take it down first (reconcile lab down \(lab.selection))")
        }
        let (chosenProxy, note) = try LabReconciler.proxy(lab.requestedProxy)
        try LabNetwork(topology: topology).up()
        let pid = try WhatIsMyIPServer(topology: topology, directory: lab.directory).start()
        var hostLines: [String] = []
        for host in topology.farmHosts {
            let files = LabFiles(directory: lab.directory, host: host.host)
            let previousModems = try previous?.machine(host.host).modems
            let labHost = try LabHostProcess(files: files, namespace: host.namespace).start(modems: host.modems, previous: previousModems)
            hostLines.append("\(host.host.map { "\($0): " } ?? "")lab host pid \(labHost), simulated /sys and /dev in its mount namespace (/proc/\(labHost)/root; log \(files.hostLog))")
        }
        try farm.record(topology)
        try LabFiles.write(chosenProxy + "\n", to: lab.files.proxyBinary)
        if topology.hosts != nil {
            try farm.prepare(topology, rotationEvery: LabRun.defaultRotation)
            hostLines += try LabFarmServices(lab: lab, topology: topology).start()
        }
        let modemList = topology.farmHosts.map { host in
            (host.host.map { "\($0): " } ?? "") + host.modems.map { LabTopology.modemInterface($0) }.joined(separator: " ")
        }.joined(separator: ", ")
        print("""
            lab \(topology.name): namespaces \(topology.namespaces.joined(separator: ", "))
              modems: \(modemList) (carrier networks 100.64.\(topology.modems.lowerBound)-\(topology.modems.upperBound).0/24)
              lab network: \(topology.machines.map { "\($0.host ?? "eth0") \($0.address)" }.joined(separator: ", ")) via \(LabTopology.uplinkGateway)
              what-is-my-IP: http://\(LabTopology.serverAddress)/ (pid \(pid), log \(lab.directory)/\(WhatIsMyIPScript.logFileName))
              simulated modems: \(topology.modems.map { LabModemHardware(number: $0).summary }.joined(separator: ", "))
            \(hostLines.map { "  " + $0 }.joined(separator: "\n"))
              \(note)
              run the reconciler in it with: reconcile lab run \(lab.selection)\(topology.hosts == nil ? "" : " --host host-1|gateway")
              remove with: reconcile lab down \(lab.selection)
            """)
    }
}

struct LabDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Remove everything `lab up` made (and only that); safe to repeat and after a failed `lab up`.")

    @OptionGroup var lab: LabOptions

    func run() async throws {
        let topology = try LabTopology(name: lab.name)
        try lab.requireRoot("lab down")
        let farm = LabFarm(files: LabFiles(directory: lab.directory))
        let hosts = ((try? farm.topology(name: lab.name)) ?? topology).farmHosts
        let removed = hosts.flatMap { LabHostProcess(files: LabFiles(directory: lab.directory, host: $0.host), namespace: $0.namespace).stop() }
            + (try LabNetwork(topology: topology).down())
            + farm.remove()
            + WhatIsMyIPServer(topology: topology, directory: lab.directory).stop()
        print(removed.isEmpty ? "lab \(topology.name): nothing to remove" : "lab \(topology.name): removed " + removed.joined(separator: ", "))
    }
}
