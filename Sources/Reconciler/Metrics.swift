import Foundation
import Spec

/// status/metrics.prom: the status facts in Prometheus text format for node_exporter's textfile
/// collector. Prefix `proxyfarm_`, base units (seconds, bytes), `_total` for counters.
public enum Metrics {
    public static func render(farm: FarmStatus, modems: [ModemStatus]) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            guard !samples.isEmpty else { return }
            out += "# HELP proxyfarm_\(name) \(help)\n# TYPE proxyfarm_\(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
                out += "proxyfarm_\(name)\(labels) \(number(sample.value))\n"
            }
        }
        family("info", "gauge", "Spec revision the farm was last reconciled against.", [([("revision", farm.specRevision)], 1)])
        family("last_pass_timestamp_seconds", "gauge", "When the last pass ended (Unix time).", [([], farm.lastPass.timeIntervalSince1970)])
        family("last_pass_duration_seconds", "gauge", "How long the last pass took.", [([], farm.lastPassSeconds)])
        family("last_successful_pass_timestamp_seconds", "gauge", "When the last pass in which no action failed ended (Unix time).",
               farm.lastSuccessfulPass.map { [([], $0.timeIntervalSince1970)] } ?? [])
        family("last_pass_failed_actions", "gauge", "Actions that failed in the last pass.", [([], Double(farm.failedActions))])
        family("converged", "gauge", "1 when every enabled modem is Ready and the last pass left nothing to do.", [([], farm.converged ? 1 : 0)])
        family("spec_valid", "gauge", "1 when farm.yaml is valid; 0 while an older valid farm.yaml is kept in force.",
               [([], farm.specErrors == nil ? 1 : 0)])
        family("spec_errors", "gauge", "Errors in farm.yaml (0 when it is valid).", [([], Double(farm.specErrors?.count ?? 0))])
        family("modems", "gauge", "Modems in farm.yaml by phase.", farm.phases.sorted { $0.key < $1.key }.map { ([("phase", $0.key)], Double($0.value)) })
        family("unclaimed_modems", "gauge", "Plugged modems no spec modem claims.", [([], Double(farm.unclaimedModems.count))])

        let sorted = modems.sorted { $0.name < $1.name }
        func perModem(_ name: String, _ type: String, _ help: String, _ value: (ModemStatus) -> Double?) {
            family(name, type, help, sorted.compactMap { modem in value(modem).map { ([("modem", modem.name)], $0) } })
        }
        family("modem_phase", "gauge", "1 for the phase each modem is in.", sorted.flatMap { modem in
            Phase.allCases.map { ([("modem", modem.name), ("phase", $0.rawValue)], modem.phase == $0 ? 1.0 : 0.0) }
        })
        family("modem_condition", "gauge", "1 when the condition is True.", sorted.flatMap { modem in
            modem.conditions.map { ([("modem", modem.name), ("condition", $0.type.rawValue)], $0.status == "True" ? 1.0 : 0.0) }
        })
        family("modem_ip_info", "gauge", "The modem's address and the public address its probe saw; always 1.", sorted.compactMap { modem in
            guard modem.ip != nil || modem.publicIP != nil else { return nil }
            return ([("modem", modem.name), ("ip", modem.ip ?? ""), ("public_ip", modem.publicIP ?? "")], 1)
        })
        perModem("modem_guard_refused_packets_total", "counter", "Packets the egress guard refused to let the modem's proxy send elsewhere.") {
            $0.guardRefusedPackets.map(Double.init)
        }
        perModem("modem_receive_bytes_total", "counter", "Bytes the modem's interface received, across rotations, replugs and restarts.") {
            $0.traffic.map { Double($0.receive) }
        }
        perModem("modem_transmit_bytes_total", "counter", "Bytes the modem's interface transmitted, across rotations, replugs and restarts.") {
            $0.traffic.map { Double($0.transmit) }
        }
        perModem("modem_signal_rssi_dbm", "gauge", "Received signal strength (dBm).") { $0.signal?.rssi.map(Double.init) }
        perModem("modem_signal_rsrp_dbm", "gauge", "Reference signal received power (dBm).") { $0.signal?.rsrp.map(Double.init) }
        perModem("modem_signal_rsrq_db", "gauge", "Reference signal received quality (dB).") { $0.signal?.rsrq.map(Double.init) }
        perModem("modem_signal_snr_db", "gauge", "Signal to noise ratio (dB).") { $0.signal?.snr }
        perModem("modem_rotations_total", "counter", "Rotations (new public IP) done.") { Double($0.rotation.count) }
        perModem("modem_last_rotation_timestamp_seconds", "gauge", "When the modem last rotated (Unix time).") {
            $0.rotation.last?.timeIntervalSince1970
        }
        perModem("modem_last_rotation_kept_same_address", "gauge", "1 when the last rotation ended with the same address (the carrier handed it back).") {
            $0.rotation.lastKeptSameAddress.map { $0 ? 1 : 0 }
        }
        perModem("modem_resets_total", "counter", "Resets after failed health probes.") { Double($0.health.resets) }
        perModem("modem_health_probe_failures_total", "counter", "Failed health probes.") { $0.health.probeFailures.map(Double.init) }
        perModem("modem_health_consecutive_failures", "gauge", "Health probes failed in a row.") { Double($0.health.consecutiveFailures) }
        perModem("modem_health_probe_duration_seconds", "gauge", "Latency of the last health probe.") { $0.health.lastLatencySeconds }
        perModem("modem_health_last_probe_timestamp_seconds", "gauge", "When the modem was last probed (Unix time).") {
            $0.health.lastProbe?.timeIntervalSince1970
        }
        // Per user on each modem: as many series as farm.yaml puts users on modems.
        func perUser(_ name: String, _ type: String, _ help: String, _ value: (UserTraffic) -> Double?) {
            family(name, type, help, sorted.flatMap { modem in
                (modem.users ?? []).compactMap { user in value(user).map { ([("modem", modem.name), ("user", user.name)], $0) } }
            })
        }
        perUser("user_receive_bytes_total", "counter", "Bytes the user received through the modem's proxy, as its 3proxy counted them.") {
            Double($0.receive)
        }
        perUser("user_transmit_bytes_total", "counter", "Bytes the user sent through the modem's proxy, as its 3proxy counted them.") {
            Double($0.transmit)
        }
        perUser("user_quota_bytes", "gauge", "The user's quota on the modem per period (in and out together).") { $0.quotaBytes.map { Double($0) } }
        perUser("user_quota_used_bytes", "gauge", "Bytes counted against the user's quota in the current period.") {
            $0.quotaUsedBytes.map { Double($0) }
        }
        perUser("user_quota_remaining_bytes", "gauge", "Bytes left of the user's quota in the current period.") {
            $0.quotaRemainingBytes.map { Double($0) }
        }
        perUser("user_over_quota", "gauge", "1 while the modem's 3proxy refuses the user for having used the quota.") {
            $0.overQuota.map { $0 ? 1 : 0 }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Label values escape backslash, quote and newline (most have none: returned as they are).
    static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return value }
        return PlainText.escaping(value, ["\\": "\\\\", "\"": "\\\"", "\n": "\\n"])
    }
}
