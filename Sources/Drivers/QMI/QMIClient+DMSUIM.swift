import CQMI
import Reconciler

/// The SIM through DMS, for old firmware without the UIM service.
extension QMIClient {
    /// DMS UIM Get PIN Status, read as a card status.
    public func legacyCardStatus() async throws -> CardStatus {
        let dms = DMSPointer(typed(QmiClientDms.self))
        let operation = "DMS UIM Get PIN Status"
        return try await request("UIM Get PIN Status") { begin in
            qmi_client_dms_uim_get_pin_status(dms.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_dms_uim_get_pin_status_finish(dms.pointer, result, &error) else {
                throw self.fail("UIM Get PIN Status", error)
            }
            defer { qmi_message_dms_uim_get_pin_status_output_unref(output) }
            try check(qmi_message_dms_uim_get_pin_status_output_get_result(output, &error), error, device: self.device.path, operation: operation)
            var status = QMI_DMS_UIM_PIN_STATUS_NOT_INITIALIZED
            var pin: guint8 = 0, puk: guint8 = 0
            try check(qmi_message_dms_uim_get_pin_status_output_get_pin1_status(output, &status, &pin, &puk, &error), error,
                      device: self.device.path, operation: operation)
            let sim: SIMState = switch status {
            case QMI_DMS_UIM_PIN_STATUS_ENABLED_NOT_VERIFIED: .pinRequired
            case QMI_DMS_UIM_PIN_STATUS_ENABLED_VERIFIED, QMI_DMS_UIM_PIN_STATUS_DISABLED,
                 QMI_DMS_UIM_PIN_STATUS_UNBLOCKED, QMI_DMS_UIM_PIN_STATUS_CHANGED: .ready
            case QMI_DMS_UIM_PIN_STATUS_BLOCKED: .pukRequired
            default: .error
            }
            return CardStatus(sim: sim, pinRetriesLeft: Int(pin), pukRetriesLeft: Int(puk))
        }
    }

    /// DMS UIM Verify PIN, exactly once. A wrong PIN throws `.wrongPin` with the tries left.
    public func legacyVerifyPIN(_ pin: String) async throws {
        let dms = DMSPointer(typed(QmiClientDms.self))
        let operation = "DMS UIM Verify PIN"
        let secret = SecretBox(pin)
        try await request("UIM Verify PIN") { begin in
            let input = qmi_message_dms_uim_verify_pin_input_new()
            defer { qmi_message_dms_uim_verify_pin_input_unref(input) }
            qmi_message_dms_uim_verify_pin_input_set_info(input, QMI_DMS_UIM_PIN_ID_PIN, secret.value, nil)
            qmi_client_dms_uim_verify_pin(dms.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_dms_uim_verify_pin_finish(dms.pointer, result, &error) else {
                throw self.fail("UIM Verify PIN", error)
            }
            defer { qmi_message_dms_uim_verify_pin_output_unref(output) }
            guard qmi_message_dms_uim_verify_pin_output_get_result(output, &error) != 0 else {
                var failure = QMIError.consuming(error, device: self.device.path, operation: operation)
                var left: guint8 = 0
                if qmi_message_dms_uim_verify_pin_output_get_pin_retries_status(output, &left, nil, nil) != 0 {
                    failure.detail += " (\(left) PIN tries left; not retried automatically)"
                }
                throw failure
            }
        }
    }
}
