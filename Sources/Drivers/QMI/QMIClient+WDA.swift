import CQMI

extension QMIClient {
    /// WDA Get Data Format: whether the device frames data as raw IP (vs 802.3).
    public func deviceUsesRawIP() async throws -> Bool {
        let wda = WDAPointer(typed(QmiClientWda.self))
        let operation = "WDA Get Data Format"
        return try await request("Get Data Format") { begin in
            qmi_client_wda_get_data_format(wda.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_wda_get_data_format_finish(wda.pointer, result, &error) else {
                throw self.fail("Get Data Format", error)
            }
            defer { qmi_message_wda_get_data_format_output_unref(output) }
            try check(qmi_message_wda_get_data_format_output_get_result(output, &error), error, device: self.device.path, operation: operation)
            var proto = QMI_WDA_LINK_LAYER_PROTOCOL_UNKNOWN
            try check(qmi_message_wda_get_data_format_output_get_link_layer_protocol(output, &proto, &error), error,
                      device: self.device.path, operation: operation)
            return proto == QMI_WDA_LINK_LAYER_PROTOCOL_RAW_IP
        }
    }

    /// WDA Set Data Format to raw IP, the framing LTE modems and qmi_wwan's raw_ip mode use.
    public func setDeviceRawIP() async throws {
        let wda = WDAPointer(typed(QmiClientWda.self))
        let operation = "WDA Set Data Format"
        try await request("Set Data Format") { begin in
            let input = qmi_message_wda_set_data_format_input_new()
            defer { qmi_message_wda_set_data_format_input_unref(input) }
            qmi_message_wda_set_data_format_input_set_link_layer_protocol(input, QMI_WDA_LINK_LAYER_PROTOCOL_RAW_IP, nil)
            qmi_client_wda_set_data_format(wda.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_wda_set_data_format_finish(wda.pointer, result, &error) else {
                throw self.fail("Set Data Format", error)
            }
            defer { qmi_message_wda_set_data_format_output_unref(output) }
            try check(qmi_message_wda_set_data_format_output_get_result(output, &error), error, device: self.device.path, operation: operation)
        }
    }
}

struct WDAPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClientWda>
    init(_ pointer: UnsafeMutablePointer<QmiClientWda>) { self.pointer = pointer }
}
