/// A user's traffic quota on one modem (`users.<name>.quota`, e.g. `50GB per month`): bytes in and
/// out together, counted by that modem's 3proxy, which refuses the user once it is used up.
///
/// Units are binary (1 KB = 1024 bytes, 1 GB = 1024³ bytes) because 3proxy counts limits in whole
/// MiB; a quota must therefore be a whole number of MB, so what farm.yaml says is exactly what
/// 3proxy enforces.
public struct Quota: Sendable, Equatable, CustomStringConvertible {
    /// When the count starts again: at local midnight, on Sunday (3proxy's week), on the 1st, or never.
    public enum Period: String, Sendable, CaseIterable {
        case day, week, month, total
    }

    public static let bytesPerMB: UInt64 = 1 << 20

    public var bytes: UInt64
    public var period: Period

    public init(bytes: UInt64, period: Period) {
        self.bytes = bytes
        self.period = period
    }

    /// The limit as 3proxy's `countall` takes it: whole MiB.
    public var megabytes: UInt64 { bytes / Self.bytesPerMB }

    /// Written back as farm.yaml spells it, in the largest unit that divides it.
    public var description: String {
        let unit = Self.units.last { bytes % $0.factor == 0 } ?? Self.units[0]
        let amount = "\(bytes / unit.factor)\(unit.suffix)"
        return period == .total ? "\(amount) total" : "\(amount) per \(period.rawValue)"
    }

    static let units: [(suffix: String, factor: UInt64)] = [
        ("B", 1), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
    ]

    /// `AMOUNT UNIT (per PERIOD | /PERIOD | total)`; the pattern (TextFormat.quota) is checked first.
    static func parse(_ text: String) -> Result<Quota, FormatProblem> {
        let compact = text.replacing(" per ", with: "/").replacing(" total", with: "/total")
        let parts = compact.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let period = Period(rawValue: parts[1]) else {
            return .failure(FormatProblem("'\(text)' has no period; add per day, per week, per month or total"))
        }
        let spelled = parts[0].replacing("iB", with: "B")
        guard let unit = units.reversed().first(where: { spelled.hasSuffix($0.suffix) }),
              let amount = UInt64(spelled.dropLast(unit.suffix.count)), amount > 0 else {
            return .failure(FormatProblem("'\(text)' must be more than zero"))
        }
        let (bytes, overflow) = amount.multipliedReportingOverflow(by: unit.factor)
        guard !overflow, bytes <= maxBytes else {
            return .failure(FormatProblem("'\(text)' is more than 3proxy can count; the most is \(maxBytes / units[4].factor)TB"))
        }
        guard bytes % bytesPerMB == 0 else {
            let up = (bytes + bytesPerMB - 1) / bytesPerMB
            return .failure(FormatProblem("'\(text)' is not a whole number of MB (1 MB = 1024 KB), and 3proxy counts quotas in whole MB; use e.g. \(up)MB"))
        }
        return .success(Quota(bytes: bytes, period: period))
    }

    /// 1 PB: far beyond any SIM plan, and well inside 3proxy's 64-bit byte count.
    static let maxBytes: UInt64 = 1 << 50
}
