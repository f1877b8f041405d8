import Foundation

/// The lab's farm.yaml, its secrets and its state directory, all in the lab directory. Written
/// once (a later `lab run` keeps an edited farm.yaml and the same password); `lab down` removes them.
struct LabFarm {
    static let user = "lab"

    let files: LabFiles

    var secretsDirectory: String { files.directory + "/secrets" }
    var passwordFile: String { secretsDirectory + "/\(Self.user)" }
    var pinFile: String { secretsDirectory + "/m01.pin" }
    var modemCountFile: String { files.directory + "/modems" }

    static func httpPort(_ modem: Int) -> Int { 20000 + 10 * modem + 1 }
    static func socksPort(_ modem: Int) -> Int { 20000 + 10 * modem + 2 }

    /// The proxy password (the secret file's content); never printed.
    func password() throws(LabError) -> String {
        do {
            return try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw .io(operation: "read", path: passwordFile, detail: error.localizedDescription)
        }
    }

    /// How many modems `lab up` built.
    func modemCount() throws(LabError) -> Int {
        guard let text = try? String(contentsOfFile: modemCountFile, encoding: .utf8),
              let count = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .io(operation: "read", path: modemCountFile, detail: "the lab is not up: run `reconcile lab up` first")
        }
        return count
    }

    func recordModemCount(_ count: Int) throws(LabError) {
        try LabFiles.write("\(count)\n", to: modemCountFile)
    }

    /// Writes farm.yaml and the secrets unless they exist already.
    func prepare(rotationEvery: String) throws(LabError) {
        let modems = try modemCount()
        do {
            try FileManager.default.createDirectory(atPath: secretsDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io(operation: "create", path: secretsDirectory, detail: error.localizedDescription)
        }
        if !FileManager.default.fileExists(atPath: passwordFile) {
            let bytes = (0..<12).map { _ in UInt8.random(in: 0...255) }
            try LabFiles.write(bytes.map { String(format: "%02x", $0) }.joined() + "\n", to: passwordFile, mode: 0o600)
        }
        if !FileManager.default.fileExists(atPath: pinFile) {
            try LabFiles.write(LabModemHardware.pin + "\n", to: pinFile, mode: 0o600)
        }
        if !FileManager.default.fileExists(atPath: files.farmFile) {
            try LabFiles.write(Self.farmYAML(modems: modems, rotationEvery: rotationEvery), to: files.farmFile)
        }
    }

    /// Removes what `prepare` and the reconciler wrote; returns what it removed.
    func remove() -> [String] {
        var removed: [String] = []
        for path in [files.farmFile, secretsDirectory, files.stateDirectory, modemCountFile]
        where (try? FileManager.default.removeItem(atPath: path)) != nil {
            removed.append(path)
        }
        return removed.isEmpty ? [] : ["lab farm files (farm.yaml, secrets, state)"]
    }

    /// Modems by USB serial (by IMEI for the one without), fixed ports, one user, health through
    /// the lab's what-is-my-IP server, and a short rotation on the last modem.
    static func farmYAML(modems: Int, rotationEvery: String) -> String {
        var text = """
            # The lab farm written by `reconcile lab run`; edit it freely, `lab down` removes it.
            version: 1
            defaults:
              apn: internet
              proxy:
                listen: 0.0.0.0
                users: [\(user)]
                allow: []
                dns: []
              health:
                url: http://\(LabTopology.serverAddress)/generate_204
                interval: 5s
                timeout: 2s
                failuresBeforeReset: 2
              rotation: never
            ports:
              range: 21000-21999
            routing:
              tableBase: 100
              uidBase: 20000
            users:
              \(user): { password: { file: secrets/\(user) } }
            modems:

            """
        for number in 1...modems {
            let hardware = LabModemHardware(number: number)
            text += """
                  - serial: "\(hardware.identity)"
                    name: \(hardware.name)
                    ports: { http: \(httpPort(number)), socks: \(socksPort(number)) }

                """
            if hardware.simPIN != nil { text += "    pin: { file: secrets/m01.pin }\n" }
            if number == modems && modems > 1 { text += "    rotation: { every: \(rotationEvery) }\n" }
        }
        return text
    }
}
