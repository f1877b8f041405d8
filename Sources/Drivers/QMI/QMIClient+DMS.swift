import CQMI
import Reconciler

extension QMIClient {
    /// DMS Get IDs: the IMEI, the modem's only reliable identity over QMI.
    public func imei() async throws -> String {
        let dms = DMSPointer(typed(QmiClientDms.self))
        return try await request("Get IDs") { begin in
            qmi_client_dms_get_ids(dms.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_dms_get_ids_finish(dms.pointer, result, &error) else { throw self.fail("Get IDs", error) }
            defer { qmi_message_dms_get_ids_output_unref(output) }
            try check(qmi_message_dms_get_ids_output_get_result(output, &error), error, device: self.device.path, operation: "DMS Get IDs")
            var imei: UnsafePointer<gchar>?
            try check(qmi_message_dms_get_ids_output_get_imei(output, &imei, &error), error, device: self.device.path, operation: "DMS Get IDs")
            return imei.map { String(cString: $0) } ?? ""
        }
    }

    /// DMS Get Operating Mode. Every mode but online counts as low-power: none carries data.
    public func operatingMode() async throws -> OperatingMode {
        let dms = DMSPointer(typed(QmiClientDms.self))
        return try await request("Get Operating Mode") { begin in
            qmi_client_dms_get_operating_mode(dms.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            let operation = "DMS Get Operating Mode"
            guard let output = qmi_client_dms_get_operating_mode_finish(dms.pointer, result, &error) else {
                throw self.fail("Get Operating Mode", error)
            }
            defer { qmi_message_dms_get_operating_mode_output_unref(output) }
            try check(qmi_message_dms_get_operating_mode_output_get_result(output, &error), error, device: self.device.path, operation: operation)
            var mode = QMI_DMS_OPERATING_MODE_UNKNOWN
            try check(qmi_message_dms_get_operating_mode_output_get_mode(output, &mode, &error), error, device: self.device.path, operation: operation)
            return mode == QMI_DMS_OPERATING_MODE_ONLINE ? .online : .lowPower
        }
    }

    /// DMS Set Operating Mode (low-power drops the radio and every data session).
    public func setOperatingMode(_ mode: OperatingMode) async throws {
        try await setOperatingMode(mode == .online ? QMI_DMS_OPERATING_MODE_ONLINE : QMI_DMS_OPERATING_MODE_LOW_POWER, named: mode.rawValue)
    }

    /// DMS Set Operating Mode reset: the modem reboots itself (and leaves the USB bus for a moment).
    public func resetModem() async throws {
        try await setOperatingMode(QMI_DMS_OPERATING_MODE_RESET, named: "reset")
    }

    private func setOperatingMode(_ value: QmiDmsOperatingMode, named name: String) async throws {
        let dms = DMSPointer(typed(QmiClientDms.self))
        let operation = "Set Operating Mode \(name)"
        try await request(operation) { begin in
            let input = qmi_message_dms_set_operating_mode_input_new()
            defer { qmi_message_dms_set_operating_mode_input_unref(input) }
            qmi_message_dms_set_operating_mode_input_set_mode(input, value, nil)
            qmi_client_dms_set_operating_mode(dms.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_dms_set_operating_mode_finish(dms.pointer, result, &error) else {
                throw self.fail(operation, error)
            }
            defer { qmi_message_dms_set_operating_mode_output_unref(output) }
            try check(qmi_message_dms_set_operating_mode_output_get_result(output, &error), error,
                      device: self.device.path, operation: "DMS \(operation)")
        }
    }
}

struct DMSPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClientDms>
    init(_ pointer: UnsafeMutablePointer<QmiClientDms>) { self.pointer = pointer }
}
