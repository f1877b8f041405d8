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
