import ArgumentParser
import Drivers
import Foundation
import Reconciler
import Yams

/// `reconcile discover`: which QMI modems are plugged in now, for the operator writing farm.yaml
/// (like `mmcli -L`). IMEI and SIM state join the table once the QMI driver exists; until then a
/// modem without a USB serial cannot be matched against farm.yaml and shows as `?`.
struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "List the QMI modems plugged in now and mark those farm.yaml does not know yet.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Option(help: "Output format: table or json.")
    var output: OutputFormat = .table

    @Flag(help: "Also print a ready `modems:` entry for every modem farm.yaml does not know yet.")
    var snippet = false

    @Option(help: "The farm.yaml to compare against; when the default is missing, every modem counts as new.")
    var file: String?

    func validate() throws {
        if snippet && output == .json {
            throw ValidationError("--snippet prints YAML; use it with the table output")
        }
    }

    func run() async throws {
        let modems = try await UDevModemInventory().pluggedModems()
        print(try Self.report(modems, identities: await Self.identities(of: modems), known: Self.knownSerials(file: file),
                              output: output, snippet: snippet), terminator: "")
    }

    /// IMEI and SIM state over QMI, by control device. A modem that does not answer in time (or
    /// whose port a running reconciler holds) simply has none: discover still lists it.
    static func identities(of modems: [PluggedModem]) async -> [String: ModemIdentity] {
        let control = QMIModemControl(options: .shared(timeout: .seconds(3)))
        var found: [String: ModemIdentity] = [:]
        for modem in modems {
            if let (imei, sim) = try? await control.identity(modem) { found[modem.controlDevice] = ModemIdentity(imei: imei, sim: sim) }
        }
        await control.shutdown()
        return found
    }

    /// Everything `discover` prints for these modems, given the serials farm.yaml lists (a modem is
    /// known by its USB serial or its IMEI).
    static func report(_ modems: [PluggedModem], identities: [String: ModemIdentity] = [:], known: Set<String>,
                       output: OutputFormat, snippet: Bool) throws -> String {
        let found = modems.map { modem -> DiscoveredModem in
            let identity = identities[modem.controlDevice]
            let serials = [modem.usbSerial, identity?.imei].compactMap { $0 }
            return DiscoveredModem(modem: modem, identity: identity,
                                   inFarmFile: serials.isEmpty ? nil : serials.contains(where: known.contains))
        }
        let listing = switch output {
        case .table: table(found)
        case .json: try json(found) + "\n"
        }
        let unknown = found.filter { $0.inFarmFile != true }
        return listing + (snippet && !unknown.isEmpty ? Self.snippet(unknown) : "")
    }

    /// Serials listed under `modems:` in `file` (default `farm.yaml`, which may be missing). Read
    /// loosely on purpose: `reconcile validate` judges the file, discover only needs its serials.
    static func knownSerials(file: String?) throws -> Set<String> {
        let path = file ?? FarmLocation.file
        guard let data = FileManager.default.contents(atPath: path) else {
            if file != nil { throw DiscoverError.unreadable(path, "cannot read the file") }
            return []
        }
        do {
            let root = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
            let entries = root?["modems"]?.sequence.map(Array.init) ?? []
            return Set(entries.compactMap { $0["serial"]?.scalar?.string })
        } catch {
            throw DiscoverError.unreadable(path, "\(error)")
        }
    }

    static func table(_ found: [DiscoveredModem]) -> String {
        guard !found.isEmpty else { return "no QMI modems found\n" }
        let header = ["PORT", "USB ID", "PRODUCT", "USB SERIAL", "IMEI", "SIM", "CONTROL", "INTERFACE", "AT PORTS", "IN FARM.YAML"]
        let rows = found.map { entry -> [String] in
            let modem = entry.modem
            return [modem.portPath, "\(modem.vendorID):\(modem.productID)",
                    [modem.manufacturer, modem.product].compactMap { $0 }.joined(separator: " "),
                    modem.usbSerial ?? "-", entry.identity?.imei ?? "-", entry.identity?.sim.rawValue ?? "-",
                    modem.controlDevice, modem.interface ?? "(not yet)",
                    modem.atPorts.map { $0.replacingOccurrences(of: "/dev/", with: "") }.joined(separator: ","),
                    entry.inFarmFile.map { $0 ? "yes" : "NO (new)" } ?? "? (no USB serial, no IMEI)"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }.joined()
    }

    static func json(_ found: [DiscoveredModem]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(found), as: UTF8.self)
    }

    /// One entry per new modem, named after its USB port so the label says where it sits.
    static func snippet(_ found: [DiscoveredModem]) -> String {
        var text = "modems:\n"
        for entry in found {
            let modem = entry.modem
            let what = [modem.manufacturer, modem.product].compactMap { $0 }.joined(separator: " ")
            if let serial = modem.usbSerial {
                text += "  - serial: \"\(serial)\"   # USB serial of the \(what) on USB port \(modem.portPath)\n"
            } else if let imei = entry.identity?.imei {
                text += "  - serial: \"\(imei)\"   # IMEI of the \(what) on USB port \(modem.portPath) (it has no USB serial)\n"
            } else {
                text += "  - serial: \"\"   # the \(what) on USB port \(modem.portPath) has no USB serial: "
                    + "put its IMEI here (qmicli -d \(modem.controlDevice) --dms-get-ids)\n"
            }
            text += "    name: usb\(modem.portPath.replacingOccurrences(of: ".", with: "-"))\n"
        }
        return text
    }
}

/// What QMI tells of a plugged modem: its identity when it has no USB serial, and its SIM.
struct ModemIdentity: Sendable, Equatable {
    var imei: String
    var sim: SIMState
}

/// A plugged modem, its QMI identity when it answered, and whether farm.yaml lists it (nil:
/// cannot tell without a USB serial or an IMEI).
struct DiscoveredModem: Encodable {
    var modem: PluggedModem
    var identity: ModemIdentity?
    var inFarmFile: Bool?

    private enum CodingKeys: String, CodingKey {
        case imei, sim, inFarmFile
    }

    func encode(to encoder: any Encoder) throws {
        try modem.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(identity?.imei, forKey: .imei)
        try container.encodeIfPresent(identity?.sim, forKey: .sim)
        try container.encodeIfPresent(inFarmFile, forKey: .inFarmFile)
    }
}

enum DiscoverError: Error, CustomStringConvertible {
    case unreadable(String, String)

    var description: String {
        switch self {
        case .unreadable(let path, let why): "\(path): error: \(why)"
        }
    }
}
