import ArgumentParser
import Foundation

/// `reconcile lab`: a farm of simulated modems in network namespaces (docs/lab.md).
struct Lab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build or remove a lab farm of simulated modems in network namespaces (root).",
        subcommands: [LabUp.self, LabDown.self, LabRun.self, LabDemo.self, LabPlug.self, LabUnplug.self, LabFault.self,
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

    var directory: String { dir ?? "/run/proxyfarm-lab/\(name)" }
    /// The options that name this lab again in a hint: `--name`, and `--dir` when not the default.
    var selection: String { "--name \(name)" + (dir.map { " --dir \($0)" } ?? "") }
    var files: LabFiles { LabFiles(directory: directory) }

    func requireRoot(_ command: String) throws(LabError) {
        guard geteuid() == 0 else { throw .needsRoot(command: command) }
    }
}

struct LabUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create (or complete) the lab: namespaces, one veth modem per --modems, the uplink and the what-is-my-IP server.",
        discussion: LabProxyOption.discussion)

    @OptionGroup var lab: LabOptions

    @Option(help: "Number of modems: wwan1…wwanN in <name>-farm, each with the carrier network 100.64.N.0/24.")
    var modems = 3

    @OptionGroup var proxy: LabProxyOption

    func run() async throws {
        let topology = try LabTopology(name: lab.name, modems: modems)
        try lab.requireRoot("lab up")
        let (chosenProxy, note) = try LabReconciler.proxy(proxy.requested)
        try LabNetwork(topology: topology).up()
        let pid = try WhatIsMyIPServer(topology: topology, directory: lab.directory).start()
        let farm = LabFarm(files: lab.files)
        let host = try LabHostProcess(files: lab.files, name: topology.name).start(modems: modems, previous: try? farm.modemCount())
        try farm.recordModemCount(modems)
        try LabFiles.write(chosenProxy + "\n", to: lab.files.proxyBinary)
        print("""
            lab \(topology.name): namespaces \(topology.farmNamespace) (farm) and \(topology.internetNamespace) (internet)
              modems: \(topology.modems.map { LabTopology.modemInterface($0) }.joined(separator: " ")) \
            (carrier networks 100.64.\(topology.modems.lowerBound)-\(topology.modems.upperBound).0/24)
              uplink: eth0 \(LabTopology.uplinkAddress) via \(LabTopology.uplinkGateway)
              what-is-my-IP: http://\(LabTopology.serverAddress)/ (pid \(pid), log \(lab.directory)/\(WhatIsMyIPScript.logFileName))
              simulated modems: \(topology.modems.map { LabModemHardware(number: $0).summary }.joined(separator: ", "))
              lab host: pid \(host), simulated /sys and /dev in its mount namespace (/proc/\(host)/root; log \(lab.files.hostLog))
              \(note)
              run the reconciler in it with: reconcile lab run \(lab.selection)
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
        let removed = LabHostProcess(files: lab.files, name: topology.name).stop()
            + (try LabNetwork(topology: topology).down())
            + LabFarm(files: lab.files).remove()
            + WhatIsMyIPServer(topology: topology, directory: lab.directory).stop()
        print(removed.isEmpty ? "lab \(topology.name): nothing to remove" : "lab \(topology.name): removed " + removed.joined(separator: ", "))
    }
}
