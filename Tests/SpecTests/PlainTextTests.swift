import Foundation
import Testing
import Yams
@testable import Spec

/// The standard-library replacements agree with the Foundation and Yams code they replace (see `PlainText`, `PlainScalar`,
/// `JSONValue`), checked here against the originals.
@Suite struct PlainTextTests {
    @Test func pathsSplitAsNSStringSplitsThem() {
        for path in ["/etc/proxyfarm/farm.yaml", "farm.yaml", "state/x.json", "/x", "/", "", "a/b/", "a//b", "/a/b//", "./farm.yaml", "../f"] {
            #expect(PlainText.directory(of: path) == (path as NSString).deletingLastPathComponent, "\(path)")
            #expect(PlainText.name(of: path) == (path as NSString).lastPathComponent, "\(path)")
        }
    }

    @Test func numbersFormatAsPrintfFormatsThem() {
        for value in [0, 0.04, 12.345, 44.06, 1234.56, -3.21, 99.96, -0.04, 1e9 + 0.3] {
            #expect(PlainText.fixed(value, digits: 1) == String(format: "%.1f", value), "\(value)")
            #expect(PlainText.fixed(value, digits: 3) == String(format: "%.3f", value), "\(value)")
        }
        #expect(PlainText.fixed(7, digits: 0) == "7")
        for mode in [0o600, 0o644, 0o7, 0o4755] as [UInt32] {
            #expect(PlainText.padded(mode, radix: 8, width: 4) == String(format: "%04o", mode))
        }
        #expect(PlainText.padded(0x103 as UInt64, radix: 16, width: 2) == "103")
        #expect(PlainText.padded(0xa as UInt64, radix: 16, width: 2) == "0a")
    }

    @Test func trimmingMatchesFoundation() {
        for text in ["", " ", "\n", " a ", "\ta b\r\n", "1\n", "x", "  \u{00A0}y\u{2003} "] {
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        }
    }

    @Test func webAddressesSplitAsURLComponentsSplitsThem() throws {
        for text in ["http://198.51.100.10:8080/ip?format=text", "http://example.net", "https://user:pw@example.net:8443/a/b?c=d#frag",
                     "http://[2001:db8::1]:8080/x", "http://[::1]", "HTTP://Example.NET/Path", "http://x:/y", "http://h?q=1", "http://h#f"] {
            let address = try #require(WebAddress(text), "\(text)")
            let components = try #require(URLComponents(string: text))
            #expect(address.scheme == components.scheme?.lowercased(), "\(text)")
            #expect(address.host == components.host, "\(text)")
            #expect(address.port == components.port, "\(text)")
            let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            #expect(address.pathAndQuery == path + (components.percentEncodedQuery.map { "?" + $0 } ?? ""), "\(text)")
        }
        for bad in ["http:///nohost", "not a url", "http://x:99999/", "http://x:8a/", "http://[::1/", "http://[::1]x/", "://h"] {
            #expect(WebAddress(bad) == nil, "\(bad)")
        }
    }

    /// Every kind of YAML 1.1 plain scalar, tagged as Yams' default (NSRegularExpression) resolver tags it.
    @Test func plainScalarsAreTaggedAsYamsTagsThem() {
        let samples = ["yes", "No", "TRUE", "off", "On", "y", "n", "0", "-0", "+12", "012", "0o17", "0x1F", "0b101", "1_000", "190:20:30",
                       "1.5", "-.inf", ".NaN", "6.8523015e+5", "1e3", "<<", "~", "null", "", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
                       "=", "m01", "20000-29999", "30s", "03:00", "1:30", "0.0.0.0", "::1", "08", "1__0", "abc123", "0x", "-"]
        for sample in samples {
            #expect(PlainScalar.tag(of: sample) == Resolver.default.resolveTag(of: Node(sample)), "\(sample)")
        }
    }

    @Test func integersReadAsYamsReadsThem() {
        for sample in ["0", "-0", "+12", "012", "0o17", "0x1F", "-0x1f", "0b101", "1_000", "190:20:30", "-1:30", "08", "9223372036854775807",
                       "99999999999999999999", "20000"] {
            #expect(PlainScalar.integer(sample) == Int.construct(from: Node.Scalar(sample)), "\(sample)")
        }
    }

    @Test func jsonReadsAsJSONSerializationReadsIt() throws {
        let document = #"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"rule": {"chain": "lane_20001", "#
            + #""expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wwan1"}}, {"accept": null}], "x": -1.5e2, "#
            + #""s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "t": true, "f": false, "e": [], "o": {}}}]}"#
        let parsed = try #require(JSONValue.parse(Array(document.utf8)))
        let rule = try #require(parsed["nftables"]?.array?[1]["rule"])
        #expect(rule["chain"]?.string == "lane_20001")
        #expect(rule["expr"]?.array?[0]["match"]?["right"]?.string == "wwan1")
        #expect(rule["expr"]?.array?[1]["accept"] == .null)
        #expect(rule["x"] == .number(-150))
        #expect(rule["s"]?.string == "q\"\\/\u{08}\u{0C}\n\r\t\u{e9}\u{1F600}")
        #expect(rule["t"] == .bool(true) && rule["f"] == .bool(false) && rule["e"] == .array([]) && rule["o"] == .object([]))
        #expect(parsed["nftables"]?.array?[0]["metainfo"]?["json_schema_version"]?.integer == 1)
        let foundation = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any]
        let items = foundation?["nftables"] as? [[String: Any]]
        #expect((items?[1]["rule"] as? [String: Any])?["s"] as? String == rule["s"]?.string)
    }

    @Test func malformedJSONIsRefused() {
        for text in ["", "{", "[1,]", "{\"a\":1,}", "01", "-", "1.", "1e", "\"a", "\"\u{01}\"", "{\"a\" 1}", "[1] x", "tru", "{1: 2}",
                     String(repeating: "[", count: 200) + String(repeating: "]", count: 200)] {
            #expect(JSONValue.parse(Array(text.utf8)) == nil, "\(text.prefix(20))")
        }
        #expect(JSONValue.parse(Array(" [1, 2.5, \"x\"] ".utf8)) == .array([.integer(1), .number(2.5), .string("x")]))
    }
}

/// `Pattern` matches as ICU's NSRegularExpression does (what editors' JSON Schema validators use), on every pattern
/// farm.yaml's formats and YAML's tag rules have, over values near each format's edge.
@Suite struct PatternTests {
    static let samples = ["", "m01", "M01", "m", "a_b-c", "-m", "m01-spare", String(repeating: "a", count: 32), String(repeating: "a", count: 33),
                          "alice", "al ice", "bob.smith", "8600000000001", "IMEI:1-2", "internet", "a.b", ".x", "ipv4", "30s", "10m", "2h",
                          "0s", "12345678s", "5", "500kbit", "20mbit", "1gbit", "3tbit", "50GB per month", "50GB/month", "2GB per day",
                          "1TB total", "1KiB/week", "5 GB/month", "50GB per year", "03:00", "23:59", "24:00", "3:00", "12:60", "20000-29999",
                          "1-2", "123456-1", "http://a.b/c", "https://x", "ftp://x", "http://a b", "http://a\"b", "$1$abc$def", "$3$x",
                          "$2$x", "$1$a b", "PROXY_PASSWORD", "_X1", "1X", "yes", "No", "TRUE", "on", "OFF", "y", "0", "-0", "+12", "012",
                          "0o17", "0x1F", "0b101", "1_000", "190:20:30", "1.5", "-.inf", ".NaN", "6.8523015e+5", "1e3", "<<", "~", "null",
                          "NULL", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "=", "é", "m0é", "a\tb"]

    @Test func everyFormatAndTagPatternMatchesAsICUDoes() throws {
        let patterns = TextFormat.allCases.compactMap(\.pattern) + PlainScalar.sources
        for source in patterns {
            let pattern = Pattern(source)
            #expect(pattern.compiles, "\(source)")
            let icu = try NSRegularExpression(pattern: source)
            for sample in Self.samples {
                let icuMatches = icu.firstMatch(in: sample, range: NSRange(sample.startIndex..., in: sample)) != nil
                #expect(pattern.matches(sample) == icuMatches, "\(source) on \(sample.debugDescription)")
            }
        }
    }

    @Test func outsideTheDialectNothingCompiles() {
        for source in ["a{2", "(ab", "[ab", "a)", "\\w+", ".*", "a**", "[z-a]", "{3}"] {
            #expect(!Pattern(source).compiles, "\(source)")
            #expect(!Pattern(source).matches("aa"), "\(source)")
        }
        #expect(Pattern("^a{2,}$").matches("aaaa") && !Pattern("^a{2,}$").matches("a"))
        #expect(!Pattern("^[^\\s\"]+$").matches(String(repeating: "x", count: Pattern.longestText + 1)))
        #expect(Pattern("^[^\\s\"]+$").matches(String(repeating: "x", count: Pattern.longestText)))
    }

    /// The longest texts matched, built to make each pattern's groups repeat as often as they can, end without
    /// exhausting a test thread's stack: the daemon matches on the same kind of thread.
    @Test func theLongestTextsDoNotRecurseTooDeeply() {
        let longest = ["1" + String(repeating: ":00", count: (Pattern.longestText - 1) / 3), String(repeating: "9", count: Pattern.longestText),
                       "http://" + String(repeating: "a", count: Pattern.longestText - 7)]
        for source in TextFormat.allCases.compactMap(\.pattern) + PlainScalar.sources {
            for text in longest { _ = Pattern(source).matches(text) }
        }
        #expect(PlainScalar.tag(of: "1" + String(repeating: ":00", count: Pattern.mostGroupRepeats)) == .int)
        #expect(PlainScalar.tag(of: longest[0]) == .str)
    }
}
