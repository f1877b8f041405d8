import Foundation
import Reconciler
import Spec
import Testing

/// Rendered configs for representative modems, byte for byte; only test passwords and test hashes
/// (`openssl passwd -1`) appear here. `UPDATE_GOLDEN=1 swift test` rewrites the files.
@Suite struct ProxyGoldenTests {
    static let logs = "/var/lib/proxyfarm/log/proxies"
    static let alice = ProxyConfigInput.ProxyUser(name: "alice", credential: .clear("test-alice-pw"), counters: CounterSlot(0))
    static let bob = ProxyConfigInput.ProxyUser(name: "bob", credential: .hash("$1$testsalt$D6xvZlWjCPmwrQyP9yOWe/"), counters: CounterSlot(1), quota: Quota(bytes: 50 << 30, period: .month))
    static let quoting = ProxyConfigInput.ProxyUser(name: "carol", credential: .clear("te\"st $pw"), counters: CounterSlot(2), quota: Quota(bytes: 1 << 20, period: .day))

    static let cases: [(String, ProxyConfigInput)] = [
        ("http-only", ProxyConfigInput(modem: "m01", uid: 20001, listen: "0.0.0.0", httpPort: 20001, socksPort: nil,
                                       users: [alice], allow: [], maxConnections: 200, bandwidth: Bandwidth(), dns: [],
                                       logDirectory: "\(logs)/m01")),
        ("socks-only-allow-cidrs", ProxyConfigInput(modem: "m02", uid: 20002, listen: "192.0.2.1", httpPort: nil, socksPort: 20012,
                                                    users: [alice], allow: [CIDR(address: "192.168.1.0", prefixLength: 24), CIDR(address: "10.0.0.7", prefixLength: 32)],
                                                    maxConnections: 50, bandwidth: Bandwidth(), dns: [], logDirectory: "\(logs)/m02")),
        ("both-bandwidth-dns-hash", ProxyConfigInput(modem: "m03", uid: 20003, listen: "0.0.0.0", httpPort: 20003, socksPort: 20013,
                                                     users: [alice, bob, quoting], allow: [CIDR(address: "198.51.100.0", prefixLength: 24)],
                                                     maxConnections: 200,
                                                     bandwidth: Bandwidth(inBitsPerSecond: 20_000_000, outBitsPerSecond: 5_000_000),
                                                     dns: ["1.1.1.1", "8.8.8.8"], logDirectory: "\(logs)/m03")),
        ("no-users", ProxyConfigInput(modem: "m04", uid: 20004, listen: "0.0.0.0", httpPort: 20004, socksPort: 20014,
                                      users: [], allow: [], maxConnections: 200, bandwidth: Bandwidth(), dns: [],
                                      logDirectory: "\(logs)/m04")),
        // The longest values 3proxy serves: a 64-character name (farm.yaml's limit) and a password
        // that fills HTTP Basic's 255 bytes of `user:password`, with quotes and a dollar in it.
        ("max-lengths", ProxyConfigInput(modem: "m05", uid: 20005, listen: "0.0.0.0", httpPort: 20005, socksPort: 20015,
                                         users: [longest], allow: [CIDR(address: "203.0.113.0", prefixLength: 24)],
                                         maxConnections: 200, bandwidth: Bandwidth(inBitsPerSecond: 1_000_000), dns: [],
                                         logDirectory: "\(logs)/m05")),
        // 250 users on one proxy: one line each, where one `users` line of 81 KB broke the parse.
        ("many-users", ProxyConfigInput(modem: "m06", uid: 20006, listen: "0.0.0.0", httpPort: 20006, socksPort: 20016,
                                        users: many, allow: [], maxConnections: 200, bandwidth: Bandwidth(), dns: [],
                                        logDirectory: "\(logs)/m06")),
    ]
    static let longestName = String(repeating: "n", count: 64)
    static let longest = ProxyConfigInput.ProxyUser(
        name: longestName, credential: .clear("\"$" + String(repeating: "p", count: ProxyLimits.passwordBytes(user: longestName) - 2)),
        counters: CounterSlot(3), quota: Quota(bytes: 1 << 50, period: .total))
    static let many = (1...250).map { ProxyConfigInput.ProxyUser(name: "user\($0)", credential: .clear("test-pw-\($0)-" + String(repeating: "x", count: 200)), counters: CounterSlot($0)) }

    static func goldenURL(_ name: String) -> URL { ProxyTestSupport.goldenDirectory.appendingPathComponent("\(name).cfg") }

    @Test(arguments: cases.map(\.0))
    func renderedConfigMatchesGoldenFile(name: String) throws {
        let input = try #require(Self.cases.first { $0.0 == name }?.1)
        #expect(ProxyConfigRenderer.problems(input).isEmpty)
        let rendered = ProxyConfigRenderer.render(input)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: ProxyTestSupport.goldenDirectory, withIntermediateDirectories: true)
            try rendered.write(to: Self.goldenURL(name), atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: Self.goldenURL(name), encoding: .utf8)
        #expect(rendered == golden)
        #expect(ProxyConfigRenderer.render(input) == rendered, "rendering is deterministic")
    }

    /// Renderer and stand-in agree: every golden file parses without a single stderr line.
    @Test(arguments: cases.map(\.0))
    func standInParsesGoldenFile(name: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProxyTestSupport.standIn)
        process.arguments = ["--parse-only", Self.goldenURL(name).path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.isEmpty, "stand-in complained: \(text)")
    }
}

/// Values 3proxy would silently mangle are reported before anything is rendered.
@Suite struct ProxyConfigProblemTests {
    static func input(users: [ProxyConfigInput.ProxyUser], listen: String = "0.0.0.0", dns: [String] = []) -> ProxyConfigInput {
        ProxyConfigInput(modem: "m01", uid: 20001, listen: listen, httpPort: 20001, socksPort: nil, users: users, allow: [],
                         maxConnections: 10, bandwidth: Bandwidth(), dns: dns, logDirectory: "/var/log/m01")
    }

    @Test func unsafeValuesAreProblemsThatNameNoSecret() {
        let secret = "s3cr3t-line\nnext"
        let problems = ProxyConfigRenderer.problems(Self.input(users: [
            .init(name: "alice", credential: .clear(secret), counters: CounterSlot(0)),
            .init(name: "bob", credential: .hash("$6$salt$" + String(repeating: "x", count: 86)), counters: CounterSlot(1)),
            .init(name: "eve,mallory", credential: .clear("pw"), counters: CounterSlot(2)),
        ], listen: "127.0.0.300", dns: ["lo"]))
        #expect(problems.count == 5)
        #expect(problems.contains { $0.contains("password of user alice") })
        #expect(problems.contains { $0.contains("hash of user bob") })
        #expect(problems.contains { $0.contains("listen address 127.0.0.300") })
        #expect(!problems.joined().contains("s3cr3t"))
    }

    /// One byte past HTTP Basic's 255 for `user:password` is refused (naming the user, not the
    /// password); the line-length guard catches what no single value shows.
    @Test func valuesPastThreeProxysLimitsAreProblems() {
        let name = ProxyGoldenTests.longestName
        let fits = String(repeating: "p", count: ProxyLimits.passwordBytes(user: name))
        #expect(ProxyConfigRenderer.problems(Self.input(users: [.init(name: name, credential: .clear(fits), counters: CounterSlot(0))])).isEmpty)
        let over = Self.input(users: [.init(name: name, credential: .clear(fits + "p"), counters: CounterSlot(0))])
        #expect(ProxyConfigRenderer.problems(over) == ["password of user \(name) is 191 bytes; 3proxy cuts HTTP Basic's "
                                                        + "user:password at 255 bytes, so it may have at most 190"])
        let tooLongName = String(repeating: "n", count: 254)
        #expect(ProxyConfigRenderer.problems(Self.input(users: [.init(name: tooLongName, credential: .hash("$1$testsalt$D6xvZlWjCPmwrQyP9yOWe/"), counters: CounterSlot(0))]))
            == ["user name \(tooLongName) leaves no room for a password in 3proxy's 255 bytes"])
        var wide = Self.input(users: [.init(name: "alice", credential: .clear("pw"), counters: CounterSlot(0))])
        wide.allow = (0..<6000).map { CIDR(address: "10.\($0 / 256).\($0 % 256).0", prefixLength: 24) }
        #expect(ProxyConfigRenderer.problems(wide).count == 1)
        #expect(ProxyConfigRenderer.problems(wide).first?.hasPrefix("config line ") == true)
        #expect(ProxyConfigRenderer.problems(wide).first?.hasSuffix("3proxy reads at most 65534") == true)
    }

    @Test func quotesAndDollarsInPasswordsRenderQuoted() {
        let input = Self.input(users: [.init(name: "alice", credential: .clear("a\"b$c"), counters: CounterSlot(0))])
        #expect(ProxyConfigRenderer.problems(input).isEmpty)
        #expect(ProxyConfigRenderer.render(input).contains("users \"alice:CL:a\"\"b$c\"\n"))
    }
}
