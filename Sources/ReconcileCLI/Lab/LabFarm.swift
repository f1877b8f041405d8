import Foundation

/// The lab's farm.yaml, its secrets and its state directory, all in the lab directory. Written
/// once (a later `lab run` keeps an edited farm.yaml and the same password); `lab down` removes them.
struct LabFarm {
    static let user = "lab"

    let files: LabFiles

    var secretsDirectory: String { files.directory + "/secrets" }
    var passwordFile: String { secretsDirectory + "/\(Self.user)" }
    var pinFile: String { secretsDirectory + "/m01.pin" }
    var apiTokenFile: String { secretsDirectory + "/api-token" }
    var modemCountFile: String { files.directory + "/modems" }
    /// Present only for a multi-host lab: its number of farm hosts.
    var hostCountFile: String { files.directory + "/hosts" }
    /// Where the gateway of a multi-host lab keeps its state (`gateway-state` in the lab directory,
    /// the gateway command's default, since `lab run --host gateway` runs there).
    var gatewayStateDirectory: String { files.directory + "/gateway-state" }
    static let apiPort = 8080

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

    /// The lab `lab up` built (modems per host, and the hosts of a multi-host lab).
    func topology(name: String) throws(LabError) -> LabTopology {
        guard let text = try? String(contentsOfFile: modemCountFile, encoding: .utf8),
              let count = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .io(operation: "read", path: modemCountFile, detail: "the lab is not up: run `reconcile lab up` first")
        }
        let hosts = (try? String(contentsOfFile: hostCountFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return try LabTopology(name: name, modems: count / (hosts ?? 1), hosts: hosts)
    }

    func record(_ topology: LabTopology) throws(LabError) {
        try LabFiles.write("\(topology.modems.count)\n", to: modemCountFile)
        if let hosts = topology.hosts { try LabFiles.write("\(hosts)\n", to: hostCountFile) }
    }

    /// Writes farm.yaml and the secrets unless they exist already.
    func prepare(_ topology: LabTopology, rotationEvery: String) throws(LabError) {
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
        if topology.hosts != nil, !FileManager.default.fileExists(atPath: apiTokenFile) {
            let bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
            try LabFiles.write(bytes.map { String(format: "%02x", $0) }.joined() + "\n", to: apiTokenFile, mode: 0o600)
        }
        if !FileManager.default.fileExists(atPath: files.farmFile) {
            try LabFiles.write(Self.farmYAML(topology, rotationEvery: rotationEvery), to: files.farmFile)
        }
    }

    /// Removes what `prepare` and the reconciler wrote; returns what it removed.
    func remove() -> [String] {
        var removed: [String] = []
        let hostDirectories = ((try? FileManager.default.contentsOfDirectory(atPath: files.directory)) ?? [])
            .filter { ($0.hasPrefix("host-") && Int($0.dropFirst(5)) != nil) || $0 == LabTopology.gatewayHostName }
            .map { files.directory + "/" + $0 }
        for path in [files.farmFile, secretsDirectory, files.stateDirectory, modemCountFile, hostCountFile, gatewayStateDirectory] + hostDirectories
        where (try? FileManager.default.removeItem(atPath: path)) != nil {
            removed.append(path)
        }
        return removed.isEmpty ? [] : ["lab farm files (farm.yaml, secrets, state)"]
    }

    /// Modems by USB serial (by IMEI for the one without), fixed ports, one user, health through
    /// the lab's what-is-my-IP server, and a short rotation on the last modem. A multi-host lab's
    /// farm also names its hosts, the gateway (customers from 203.0.113.0/24), the API every host
    /// serves /healthz on, and each modem's host; its proxies accept only the gateway and the host itself.
    static func farmYAML(_ topology: LabTopology, rotationEvery: String) -> String {
        let modems = topology.modems.count
        var text = """
            # The lab farm written by `reconcile lab run`; edit it freely, `lab down` removes it.
            version: 1

            """
        if topology.hosts != nil {
            text += "hosts:\n" + topology.farmHosts.map { "  \($0.host ?? ""): { address: \($0.address) }\n" }.joined()
            text += """
                gateway:
                  listen: \(LabTopology.gatewayAddress)
                  ports: 30000-30999
                  allow: [\(LabTopology.customerNetwork)]
                  checkInterval: 1s
                api:
                  listen: "0.0.0.0:\(apiPort)"
                  token: { file: secrets/api-token }

                """
        }
        text += """
            defaults:
              apn: internet
              proxy:
                listen: 0.0.0.0
                users: [\(user)]
                allow: \(topology.hosts == nil ? "[]" : "[127.0.0.1/32, \(LabTopology.gatewayAddress)/32]")
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
        for host in topology.farmHosts {
            for number in host.modems {
                let hardware = LabModemHardware(number: number)
                text += """
                      - serial: "\(hardware.identity)"
                        name: \(hardware.name)
                        ports: { http: \(httpPort(number)), socks: \(socksPort(number)) }

                    """
                if let name = host.host { text += "    host: \(name)\n" }
                if hardware.simPIN != nil { text += "    pin: { file: secrets/m01.pin }\n" }
                if number == modems && modems > 1 { text += "    rotation: { every: \(rotationEvery) }\n" }
            }
        }
        return text
    }
}
