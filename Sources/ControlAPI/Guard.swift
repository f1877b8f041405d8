import Foundation
import Reconciler

/// Comparisons of secrets that take the same time wherever the first difference is.
enum ConstantTime {
    static func equal(_ given: String, _ secret: Secret) -> Bool {
        let a = Array(given.utf8), b = Array(secret.value.utf8)
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// The link whose token is `given`, comparing against every link so the time tells nothing.
    static func link(_ given: String, in links: [APIConfiguration.Link]) -> APIConfiguration.Link? {
        var found: APIConfiguration.Link?
        for link in links where equal(given, link.token) && found == nil { found = link }
        return found
    }
}

/// Token buckets per client address: one for all requests, one for failed token checks (so a
/// token cannot be guessed by trying). A client that ran out waits; the answer says how long.
struct RateLimits: Sendable {
    struct Limit: Sendable {
        var burst: Double
        var perSecond: Double
    }

    struct Bucket: Sendable {
        var tokens: Double
        var updated: Date
    }

    static let requests = Limit(burst: 120, perSecond: 20)
    /// Ten wrong tokens, then one more every six seconds.
    static let failures = Limit(burst: 10, perSecond: 1.0 / 6)
    /// Clients remembered at most; full buckets are forgotten first.
    static let maximumClients = 10_000

    private var requestBuckets: [String: Bucket] = [:]
    private var failureBuckets: [String: Bucket] = [:]

    /// Takes one request token; nil when allowed, else the seconds to wait.
    mutating func admit(_ client: String, now: Date) -> Int? {
        Self.take(&requestBuckets, client, Self.requests, now: now)
    }

    /// Seconds to wait before this client may try a token again; nil when it may.
    func failureWait(_ client: String, now: Date) -> Int? {
        guard let bucket = failureBuckets[client] else { return nil }
        let tokens = Self.refilled(bucket, Self.failures, now: now)
        return tokens >= 1 ? nil : Self.wait(for: 1 - tokens, Self.failures)
    }

    mutating func recordFailure(_ client: String, now: Date) {
        _ = Self.take(&failureBuckets, client, Self.failures, now: now)
    }

    private static func refilled(_ bucket: Bucket, _ limit: Limit, now: Date) -> Double {
        min(limit.burst, bucket.tokens + max(0, now.timeIntervalSince(bucket.updated)) * limit.perSecond)
    }

    private static func wait(for missing: Double, _ limit: Limit) -> Int { max(1, Int((missing / limit.perSecond).rounded(.up))) }

    private static func take(_ buckets: inout [String: Bucket], _ client: String, _ limit: Limit, now: Date) -> Int? {
        if buckets.count >= maximumClients { buckets = buckets.filter { refilled($0.value, limit, now: now) < limit.burst } }
        let tokens = buckets[client].map { refilled($0, limit, now: now) } ?? limit.burst
        guard tokens >= 1 else {
            buckets[client] = Bucket(tokens: tokens, updated: now)
            return wait(for: 1 - tokens, limit)
        }
        buckets[client] = Bucket(tokens: tokens - 1, updated: now)
        return nil
    }
}

/// Dashboard log-ins: random session ids in memory (a restart of `serve` logs everyone out).
struct Sessions: Sendable {
    static let lifetime: TimeInterval = 12 * 3600
    static let cookieName = "proxyfarm_session"
    private var expiries: [String: Date] = [:]

    mutating func open(now: Date) -> String {
        expiries = expiries.filter { $0.value > now }
        var generator = SystemRandomNumberGenerator()
        let id = (0..<4).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
        expiries[id] = now.addingTimeInterval(Self.lifetime)
        return id
    }

    func isValid(_ id: String, now: Date) -> Bool {
        guard let expiry = expiries.first(where: { ConstantTime.equal(id, Secret($0.key)) })?.value else { return false }
        return expiry > now
    }
}
