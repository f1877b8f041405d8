import CQMI
import Reconciler

extension QMIClient {
    /// NAS Get Signal Info: LTE values when on LTE, else the best RSSI another technology gives.
    public func signalInfo() async throws -> SignalInfo {
        let nas = NASPointer(typed(QmiClientNas.self))
        return try await request("Get Signal Info") { begin in
            qmi_client_nas_get_signal_info(nas.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_nas_get_signal_info_finish(nas.pointer, result, &error) else {
                throw self.fail("Get Signal Info", error)
            }
            defer { qmi_message_nas_get_signal_info_output_unref(output) }
            try check(qmi_message_nas_get_signal_info_output_get_result(output, &error), error,
                      device: self.device.path, operation: "NAS Get Signal Info")
            var rssi: gint8 = 0, rsrq: gint8 = 0, rsrp: gint16 = 0, snr: gint16 = 0
            if qmi_message_nas_get_signal_info_output_get_lte_signal_strength(output, &rssi, &rsrq, &rsrp, &snr, nil) != 0 {
                return SignalInfo(rssi: Int(rssi), rsrp: Int(rsrp), rsrq: Int(rsrq), snr: Double(snr) / 10)
            }
            var ecio: gint16 = 0
            if qmi_message_nas_get_signal_info_output_get_wcdma_signal_strength(output, &rssi, &ecio, nil) != 0 {
                return SignalInfo(rssi: Int(rssi))
            }
            if qmi_message_nas_get_signal_info_output_get_gsm_signal_strength(output, &rssi, nil) != 0 {
                return SignalInfo(rssi: Int(rssi))
            }
            return SignalInfo()
        }
    }

    /// NAS Get Serving System: registration, the operator's name and the radio technology.
    public func servingSystem() async throws -> Registration {
        let nas = NASPointer(typed(QmiClientNas.self))
        let operation = "NAS Get Serving System"
        return try await request("Get Serving System") { begin in
            qmi_client_nas_get_serving_system(nas.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_nas_get_serving_system_finish(nas.pointer, result, &error) else {
                throw self.fail("Get Serving System", error)
            }
            defer { qmi_message_nas_get_serving_system_output_unref(output) }
            try check(qmi_message_nas_get_serving_system_output_get_result(output, &error), error, device: self.device.path, operation: operation)
            var state = QMI_NAS_REGISTRATION_STATE_UNKNOWN
            var radios: UnsafeMutablePointer<GArray>?
            try check(qmi_message_nas_get_serving_system_output_get_serving_system(output, &state, nil, nil, nil, &radios, &error), error,
                      device: self.device.path, operation: operation)
            var description: UnsafePointer<gchar>?
            let name = qmi_message_nas_get_serving_system_output_get_current_plmn(output, nil, nil, &description, nil) != 0
                ? description.map { String(cString: $0) } : nil
            return Registration(registered: state == QMI_NAS_REGISTRATION_STATE_REGISTERED,
                                operatorName: name?.isEmpty == false ? name : nil,
                                radioTechnology: radioTechnology(radios))
        }
    }
}

/// The first radio interface's name as libqmi spells it (`lte`, `umts`, `5gnr`…).
private func radioTechnology(_ radios: UnsafeMutablePointer<GArray>?) -> String? {
    guard let radios, radios.pointee.len > 0, let data = radios.pointee.data else { return nil }
    let raw: Int32 = switch g_array_get_element_size(radios) {
    case 1: Int32(UnsafeMutableRawPointer(data).load(as: Int8.self))
    case 2: Int32(UnsafeMutableRawPointer(data).load(as: Int16.self))
    default: UnsafeMutableRawPointer(data).load(as: Int32.self)
    }
    return qmi_nas_radio_interface_get_string(QmiNasRadioInterface(rawValue: raw)).map { String(cString: $0) }
}

struct NASPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClientNas>
    init(_ pointer: UnsafeMutablePointer<QmiClientNas>) { self.pointer = pointer }
}
