import ArgumentParser

/// A modem of a running lab, by number (modem N is wwanN, m0N in the lab farm.yaml).
struct LabModemArgument: ParsableArguments {
    @OptionGroup var lab: LabOptions

    @Argument(help: "The modem's number (1 for wwan1/m01).")
    var modem: Int

    func send(_ command: String) throws {
        let answer = try ControlSocket.send(command, to: lab.files.controlSocket)
        guard answer == "ok" else { throw LabError.hostRefused(command: command, answer: answer) }
        print("lab \(lab.name): \(command): done")
    }
}

struct LabPlug: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plug", abstract: "Plug a modem back into the lab's testbed (udev `add` events, a rebooted simulator).")
    @OptionGroup var target: LabModemArgument
    func run() throws { try target.send("plug \(target.modem)") }
}

struct LabUnplug: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unplug", abstract: "Pull a modem from the lab's testbed (udev `remove` events, then its devices go).")
    @OptionGroup var target: LabModemArgument
    func run() throws { try target.send("unplug \(target.modem)") }
}

struct LabFault: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fault", abstract: "Make a lab modem's simulator misbehave: none, no-answer (hung) or gone (closed).")
    @OptionGroup var target: LabModemArgument

    @Argument(help: "none | no-answer | gone")
    var fault: String

    func run() throws { try target.send("fault \(target.modem) \(fault)") }
}

/// `reconcile lab move N --host host-1 --to host-2`: the hands of an operator carrying a modem to
/// another host of a multi-host lab: unplugged on one host, its link moved, plugged into the other.
struct LabMove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move", abstract: "Carry a modem of a multi-host lab from its host (--host) to another one (--to).")
    @OptionGroup var target: LabModemArgument

    @Option(help: "The host it is plugged into afterwards.")
    var to: String

    func run() throws {
        let lab = target.lab
        try lab.requireRoot("lab move")
        let topology = try LabFarm(files: LabFiles(directory: lab.directory)).topology(name: lab.name)
        let from = try topology.machine(lab.host), destination = try topology.machine(to)
        guard from.host != LabTopology.gatewayHostName, destination.host != LabTopology.gatewayHostName, from != destination else {
            throw LabError.unknownHost(to, hosts: topology.farmHosts.compactMap(\.host).filter { $0 != from.host })
        }
        try target.send("unplug \(target.modem)")
        try LabNetwork(topology: topology).move(modem: target.modem, from: from, to: destination)
        let answer = try ControlSocket.send("plug \(target.modem)", to: LabFiles(directory: lab.directory, host: to).controlSocket)
        guard answer == "ok" else { throw LabError.hostRefused(command: "plug \(target.modem)", answer: answer) }
        print("lab \(lab.name): modem \(target.modem) moved from \(from.host ?? "") to \(to)")
    }
}
