import CQMI
import Reconciler
import Spec

/// APN credentials for WDS Start Network. Printing or dumping it never shows the password.
public struct APNAuth: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public enum Method: Sendable { case pap, chap }
    public var method: Method
    public var username: String
    /// Never printed.
    public var password: String
    public init(method: Method, username: String, password: String) {
        self.method = method
        self.username = username
        self.password = password
    }

    public var description: String { "\(method) user \(username)" }
    public var customMirror: Mirror { Mirror(self, children: ["method": method, "username": username]) }
}

extension QMIClient {
    /// WDS Start Network on this client: the session stays bound to this client id.
    /// Returns the packet data handle that WDS Stop Network needs. Only IPv4 sessions are made
    /// (`ipv4v6` gets its IPv4 half): a dual-stack session needs a second WDS client bound to
    /// IPv6, which the rest of the farm (routing, proxies) does not use yet.
    public func startNetwork(apn: String, ipType: IPType, auth: APNAuth? = nil) async throws -> UInt32 {
        let wds = WDSPointer(typed(QmiClientWds.self))
        let operation = "WDS Start Network"
        guard ipType != .ipv6 else { throw QMIError.ipv6Unsupported(device: device.path) }
        let family = QMI_WDS_IP_FAMILY_IPV4
        return try await request("Start Network") { begin in
            let input = qmi_message_wds_start_network_input_new()
            defer { qmi_message_wds_start_network_input_unref(input) }
            qmi_message_wds_start_network_input_set_apn(input, apn, nil)
            qmi_message_wds_start_network_input_set_ip_family_preference(input, family, nil)
            if let auth {
                let method = auth.method == .pap ? QMI_WDS_AUTHENTICATION_PAP : QMI_WDS_AUTHENTICATION_CHAP
                qmi_message_wds_start_network_input_set_authentication_preference(input, method, nil)
                qmi_message_wds_start_network_input_set_username(input, auth.username, nil)
                qmi_message_wds_start_network_input_set_password(input, auth.password, nil)
            }
            qmi_client_wds_start_network(wds.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_wds_start_network_finish(wds.pointer, result, &error) else {
                throw self.fail("Start Network", error)
            }
            defer { qmi_message_wds_start_network_output_unref(output) }
            guard qmi_message_wds_start_network_output_get_result(output, &error) != 0 else {
                var failure = QMIError.consuming(error, device: self.device.path, operation: operation)
                var reason = QMI_WDS_CALL_END_REASON_GENERIC_UNSPECIFIED
                if qmi_message_wds_start_network_output_get_call_end_reason(output, &reason, nil) != 0,
                   let text = qmi_wds_call_end_reason_get_string(reason) {
                    failure.detail += " (call end reason: \(String(cString: text)))"
                }
                throw failure
            }
            var handle: guint32 = 0
            try check(qmi_message_wds_start_network_output_get_packet_data_handle(output, &handle, &error), error,
                      device: self.device.path, operation: operation)
            return handle
        }
    }

    /// WDS Stop Network of the session `handle` started on this client.
    public func stopNetwork(handle: UInt32) async throws {
        let wds = WDSPointer(typed(QmiClientWds.self))
        try await request("Stop Network") { begin in
            let input = qmi_message_wds_stop_network_input_new()
            defer { qmi_message_wds_stop_network_input_unref(input) }
            qmi_message_wds_stop_network_input_set_packet_data_handle(input, handle, nil)
            qmi_client_wds_stop_network(wds.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_wds_stop_network_finish(wds.pointer, result, &error) else {
                throw self.fail("Stop Network", error)
            }
            defer { qmi_message_wds_stop_network_output_unref(output) }
            try check(qmi_message_wds_stop_network_output_get_result(output, &error), error,
                      device: self.device.path, operation: "WDS Stop Network")
        }
    }

    /// WDS Get Packet Service Status of this client's session: connected or not.
    public func isConnected() async throws -> Bool {
        let wds = WDSPointer(typed(QmiClientWds.self))
        return try await request("Get Packet Service Status") { begin in
            qmi_client_wds_get_packet_service_status(wds.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            let operation = "WDS Get Packet Service Status"
            guard let output = qmi_client_wds_get_packet_service_status_finish(wds.pointer, result, &error) else {
                throw self.fail("Get Packet Service Status", error)
            }
            defer { qmi_message_wds_get_packet_service_status_output_unref(output) }
            try check(qmi_message_wds_get_packet_service_status_output_get_result(output, &error), error,
                      device: self.device.path, operation: operation)
            var status = QMI_WDS_CONNECTION_STATUS_UNKNOWN
            try check(qmi_message_wds_get_packet_service_status_output_get_connection_status(output, &status, &error), error,
                      device: self.device.path, operation: operation)
            return status == QMI_WDS_CONNECTION_STATUS_CONNECTED
        }
    }

    /// WDS Get Current Settings: the IPv4 addressing the network gave this client's session.
    public func currentSettings() async throws -> IPSettings {
        let wds = WDSPointer(typed(QmiClientWds.self))
        let operation = "WDS Get Current Settings"
        let wanted = QMI_WDS_REQUESTED_SETTINGS_IP_ADDRESS.rawValue | QMI_WDS_REQUESTED_SETTINGS_GATEWAY_INFO.rawValue
            | QMI_WDS_REQUESTED_SETTINGS_DNS_ADDRESS.rawValue | QMI_WDS_REQUESTED_SETTINGS_MTU.rawValue
            | QMI_WDS_REQUESTED_SETTINGS_IP_FAMILY.rawValue
        return try await request("Get Current Settings") { begin in
            let input = qmi_message_wds_get_current_settings_input_new()
            defer { qmi_message_wds_get_current_settings_input_unref(input) }
            qmi_message_wds_get_current_settings_input_set_requested_settings(input, QmiWdsRequestedSettings(wanted), nil)
            qmi_client_wds_get_current_settings(wds.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_wds_get_current_settings_finish(wds.pointer, result, &error) else {
                throw self.fail("Get Current Settings", error)
            }
            defer { qmi_message_wds_get_current_settings_output_unref(output) }
            try check(qmi_message_wds_get_current_settings_output_get_result(output, &error), error, device: self.device.path, operation: operation)
            var address: guint32 = 0, mask: guint32 = 0, gateway: guint32 = 0, dns1: guint32 = 0, dns2: guint32 = 0, mtu: guint32 = 0
            try check(qmi_message_wds_get_current_settings_output_get_ipv4_address(output, &address, &error), error,
                      device: self.device.path, operation: operation)
            let hasMask = qmi_message_wds_get_current_settings_output_get_ipv4_gateway_subnet_mask(output, &mask, nil) != 0
            let hasGateway = qmi_message_wds_get_current_settings_output_get_ipv4_gateway_address(output, &gateway, nil) != 0
            var dns: [String] = []
            if qmi_message_wds_get_current_settings_output_get_primary_ipv4_dns_address(output, &dns1, nil) != 0 { dns.append(dottedQuad(dns1)) }
            if qmi_message_wds_get_current_settings_output_get_secondary_ipv4_dns_address(output, &dns2, nil) != 0 { dns.append(dottedQuad(dns2)) }
            let hasMTU = qmi_message_wds_get_current_settings_output_get_mtu(output, &mtu, nil) != 0
            return IPSettings(address: dottedQuad(address), prefixLength: hasMask ? mask.nonzeroBitCount : 32,
                              gateway: hasGateway && gateway != 0 ? dottedQuad(gateway) : nil, dns: dns,
                              mtu: hasMTU ? Int(mtu) : nil)
        }
    }
}

/// libqmi hands IPv4 addresses as host-order integers, first octet in the top byte.
func dottedQuad(_ value: UInt32) -> String {
    "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)"
}

struct WDSPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClientWds>
    init(_ pointer: UnsafeMutablePointer<QmiClientWds>) { self.pointer = pointer }
}
