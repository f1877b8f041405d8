import Foundation
import Reconciler
import Spec

/// What `reconcile serve` needs from farm.yaml, its secrets resolved: where to listen, the
/// operator's token and every modem's change-IP link. Its description shows no token.
public struct APIConfiguration: Sendable, CustomStringConvertible {
    /// One modem's change-IP link.
    public struct Link: Sendable {
        public var modem: String
        var token: Secret
        public var minInterval: Duration

        public init(modem: String, token: String, minInterval: Duration) {
            self.modem = modem
            self.token = Secret(token)
            self.minInterval = minInterval
        }
    }

    public var listen: ListenAddress
    var operatorToken: Secret
    public var links: [Link]
    /// The state directory whose status files are served and where requests are filed.
    public var stateDirectory: String
    /// How long a change-IP link waits for the daemon to rotate the modem and bring it back Ready.
    public var linkWait: Duration

    public init(listen: ListenAddress, operatorToken: String, links: [Link], stateDirectory: String, linkWait: Duration = .seconds(90)) {
        self.listen = listen
        self.operatorToken = Secret(operatorToken)
        self.links = links
        self.stateDirectory = stateDirectory
        self.linkWait = linkWait
    }

    public var description: String {
        "listen \(listen), \(links.count) change-IP link\(links.count == 1 ? "" : "s"), state \(stateDirectory)"
    }

    /// Reads `api:` and the modems' links from a valid farm.yaml. Every token must resolve and be
    /// unique: a link token equal to the operator's (or another link's) would open the wrong door.
    public static func from(_ spec: FarmSpec, stateDirectory: String, secrets: SecretResolver) throws(APIConfigurationError) -> APIConfiguration {
        guard let api = spec.api else { throw .noAPI }
        var problems: [String] = []
        func resolve(_ source: SecretSource, _ owner: String) -> String? {
            switch secrets(source) {
            case .success(let token): return token
            case .failure(let failure):
                problems.append("\(owner): \(failure.message)")
                return nil
            }
        }
        let operatorToken = resolve(api.token, "api.token")
        var links: [Link] = []
        for modem in spec.modems {
            guard let link = modem.link, let token = resolve(link.token, "modem \(modem.name): link.token") else { continue }
            links.append(Link(modem: modem.name, token: token, minInterval: link.minInterval))
        }
        var owners: [String: String] = operatorToken.map { [$0: "api.token"] } ?? [:]
        for link in links {
            if let owner = owners[link.token.value] {
                problems.append("modem \(link.modem): link.token is the same as \(owner)'s; every token must be different")
            } else {
                owners[link.token.value] = "modem \(link.modem)"
            }
        }
        guard let operatorToken, problems.isEmpty else { throw .secrets(problems) }
        return APIConfiguration(listen: api.listen, operatorToken: operatorToken, links: links, stateDirectory: stateDirectory)
    }
}

public enum APIConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case noAPI
    case secrets([String])

    public var description: String {
        switch self {
        case .noAPI: "farm.yaml has no api: section; add api: { listen: \"127.0.0.1:8080\", token: { file: secrets/api-token } } to serve"
        case .secrets(let problems): problems.joined(separator: "; ")
        }
    }
}
