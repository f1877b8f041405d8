import Testing
@testable import Spec

/// `users.<name>.quota`: binary units in whole MB (3proxy counts limits in MiB), a period, and the
/// usual diagnostics for everything else.
@Suite struct QuotaTests {
    func farm(quota: String) -> String {
        minimalFarm.replacingOccurrences(of: "    password: { env: ALICE_PW }\n", with: "    password: { env: ALICE_PW }\n    quota: \(quota)\n")
    }

    @Test(arguments: [
        ("50GB per month", Quota(bytes: 50 << 30, period: .month)),
        ("50GB/month", Quota(bytes: 50 << 30, period: .month)),
        ("\"2GiB per day\"", Quota(bytes: 2 << 30, period: .day)),
        ("2048KB per week", Quota(bytes: 2 << 20, period: .week)),
        ("1TB total", Quota(bytes: 1 << 40, period: .total)),
        ("1048576B/day", Quota(bytes: 1 << 20, period: .day)),
    ])
    func wellFormedQuotas(text: String, quota: Quota) throws {
        let result = load(farm(quota: text))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        #expect(try #require(result.spec).users.first?.quota == quota)
    }

    @Test func noQuotaMeansUnlimited() throws {
        #expect(try #require(load(minimalFarm).spec).users.first?.quota == nil)
    }

    @Test func quotasAreWrittenBackInTheLargestWholeUnit() {
        #expect(Quota(bytes: 50 << 30, period: .month).description == "50GB per month")
        #expect(Quota(bytes: 1536 << 20, period: .day).description == "1536MB per day")
        #expect(Quota(bytes: 1 << 40, period: .total).description == "1TB total")
        #expect(Quota(bytes: 3 << 20, period: .week).megabytes == 3)
    }

    @Test func badQuotasSayWhatWouldBeRight() {
        let expected = "a quota such as \"50GB per month\", 50GB/month, \"2GB per day\" or \"1TB total\" (units B, KB, MB, GB, TB; 1 KB = 1024 B)"
        #expect(report(farm(quota: "50GB")) == ["farm.yaml:9:12: error: users.alice.quota: '50GB' is not \(expected)"])
        #expect(report(farm(quota: "50 GB per month")) == ["farm.yaml:9:12: error: users.alice.quota: '50 GB per month' is not \(expected)"])
        #expect(report(farm(quota: "50gb per month")) == ["farm.yaml:9:12: error: users.alice.quota: '50gb per month' is not \(expected)"])
        #expect(report(farm(quota: "50GB per year")) == ["farm.yaml:9:12: error: users.alice.quota: '50GB per year' is not \(expected)"])
        #expect(report(farm(quota: "0MB per day")) == ["farm.yaml:9:12: error: users.alice.quota: '0MB per day' must be more than zero"])
        #expect(report(farm(quota: "1500KB per day")) == [
            "farm.yaml:9:12: error: users.alice.quota: '1500KB per day' is not a whole number of MB (1 MB = 1024 KB), and 3proxy counts quotas in whole MB; use e.g. 2MB",
        ])
        #expect(report(farm(quota: "2000TB total")) == [
            "farm.yaml:9:12: error: users.alice.quota: '2000TB total' is more than 3proxy can count; the most is 1024TB",
        ])
    }
}
