/// The one line `systemctl status` shows for the daemon (systemd's STATUS=), e.g.
/// `12/12 ready, next rotation m03 in 4m`, or `11/12 ready (1 Degraded), farm.yaml invalid: keeping revision 3f2a1c9`.
public enum StatusLine {
    public static func summary(ready: Int, total: Int, notReady: [String: Int] = [:], nextRotation: (modem: String, due: Duration)? = nil,
                               specProblem: String? = nil) -> String {
        var line = "\(ready)/\(total) ready"
        let others = notReady.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        if !others.isEmpty { line += " (" + others.joined(separator: ", ") + ")" }
        if let nextRotation { line += ", next rotation \(nextRotation.modem) in \(approximate(nextRotation.due))" }
        if let specProblem { line += ", " + specProblem }
        return line
    }

    /// Two units at most, rounded down: `45s`, `4m`, `4m30s`, `2h`, `2h5m`, `3d4h`; `now` when due.
    public static func approximate(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        guard seconds > 0 else { return "now" }
        let units: [(String, Int64)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        guard let first = units.firstIndex(where: { seconds >= $0.1 }) else { return "now" }
        let (bigName, bigSize) = units[first]
        var text = "\(seconds / bigSize)\(bigName)"
        if first + 1 < units.count {
            let (smallName, smallSize) = units[first + 1]
            let rest = seconds % bigSize / smallSize
            if rest > 0 { text += "\(rest)\(smallName)" }
        }
        return text
    }
}
