import CQMI
import Reconciler

/// What UIM Get Card Status says about the SIM.
public struct CardStatus: Sendable, Equatable {
    public var sim: SIMState
    /// PIN1 tries left (meaningful while a PIN is required).
    public var pinRetriesLeft: Int?
    public var pukRetriesLeft: Int?
}

extension QMIClient {
    /// UIM Get Card Status: the first present card's first SIM/USIM application.
    public func cardStatus() async throws -> CardStatus {
        let uim = UIMPointer(typed(QmiClientUim.self))
        let operation = "UIM Get Card Status"
        return try await request("Get Card Status") { begin in
            qmi_client_uim_get_card_status(uim.pointer, nil, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_uim_get_card_status_finish(uim.pointer, result, &error) else {
                throw self.fail("Get Card Status", error)
            }
            defer { qmi_message_uim_get_card_status_output_unref(output) }
            try check(qmi_message_uim_get_card_status_output_get_result(output, &error), error, device: self.device.path, operation: operation)
            var cards: UnsafeMutablePointer<GArray>?
            try check(qmi_message_uim_get_card_status_output_get_card_status(output, nil, nil, nil, nil, &cards, &error), error,
                      device: self.device.path, operation: operation)
            return Self.cardStatus(of: elements(cards, as: QmiMessageUimGetCardStatusOutputCardStatusCardsElement.self))
        }
    }

    private static func cardStatus(of cards: [QmiMessageUimGetCardStatusOutputCardStatusCardsElement]) -> CardStatus {
        guard let card = cards.first(where: { $0.card_state == QMI_UIM_CARD_STATE_PRESENT }) else {
            let sim: SIMState = cards.contains { $0.card_state == QMI_UIM_CARD_STATE_ERROR } ? .error : .absent
            return CardStatus(sim: sim)
        }
        let applications = elements(card.applications, as: QmiMessageUimGetCardStatusOutputCardStatusCardsElementApplicationsElement.self)
        guard let app = applications.first(where: { $0.type == QMI_UIM_CARD_APPLICATION_TYPE_USIM || $0.type == QMI_UIM_CARD_APPLICATION_TYPE_SIM })
            ?? applications.first else {
            return CardStatus(sim: .error)
        }
        let pin = Int(app.pin1_retries), puk = Int(app.puk1_retries)
        switch app.state {
        case QMI_UIM_CARD_APPLICATION_STATE_READY:
            return CardStatus(sim: .ready, pinRetriesLeft: pin, pukRetriesLeft: puk)
        case QMI_UIM_CARD_APPLICATION_STATE_PIN1_OR_UPIN_PIN_REQUIRED:
            return CardStatus(sim: .pinRequired, pinRetriesLeft: pin, pukRetriesLeft: puk)
        case QMI_UIM_CARD_APPLICATION_STATE_PUK1_OR_UPIN_PUK_REQUIRED, QMI_UIM_CARD_APPLICATION_STATE_PIN1_BLOCKED:
            return CardStatus(sim: .pukRequired, pinRetriesLeft: 0, pukRetriesLeft: puk)
        default:
            return CardStatus(sim: .error, pinRetriesLeft: pin, pukRetriesLeft: puk)
        }
    }

    /// UIM Verify PIN (PIN1), exactly once. A wrong PIN throws `.wrongPin` with the tries left.
    public func verifyPIN(_ pin: String) async throws {
        let uim = UIMPointer(typed(QmiClientUim.self))
        let operation = "UIM Verify PIN"
        let secret = SecretBox(pin)
        try await request("Verify PIN") { begin in
            let input = qmi_message_uim_verify_pin_input_new()
            defer { qmi_message_uim_verify_pin_input_unref(input) }
            let aid = g_array_new(0, 0, 1)
            defer { g_array_unref(aid) }
            qmi_message_uim_verify_pin_input_set_session(input, QMI_UIM_SESSION_TYPE_CARD_SLOT_1, aid, nil)
            qmi_message_uim_verify_pin_input_set_info(input, QMI_UIM_PIN_ID_PIN1, secret.value, nil)
            qmi_client_uim_verify_pin(uim.pointer, input, begin.seconds, begin.cancellable, begin.callback, begin.userData)
        } finish: { result in
            var error: UnsafeMutablePointer<GError>?
            guard let output = qmi_client_uim_verify_pin_finish(uim.pointer, result, &error) else { throw self.fail("Verify PIN", error) }
            defer { qmi_message_uim_verify_pin_output_unref(output) }
            guard qmi_message_uim_verify_pin_output_get_result(output, &error) != 0 else {
                var failure = QMIError.consuming(error, device: self.device.path, operation: operation)
                var left: guint8 = 0
                if qmi_message_uim_verify_pin_output_get_retries_remaining(output, &left, nil, nil) != 0 {
                    failure.detail += " (\(left) PIN tries left; not retried automatically)"
                }
                throw failure
            }
        }
    }
}

/// Keeps the PIN out of descriptions and dumps.
struct SecretBox: Sendable, CustomStringConvertible {
    let value: String
    init(_ value: String) { self.value = value }
    var description: String { "<secret>" }
}

/// Copies the elements of a GArray owned by a libqmi output.
func elements<T>(_ array: UnsafeMutablePointer<GArray>?, as type: T.Type) -> [T] {
    guard let array, let data = array.pointee.data, array.pointee.len > 0 else { return [] }
    let typed = UnsafeMutableRawPointer(data).assumingMemoryBound(to: T.self)
    return Array(UnsafeBufferPointer(start: typed, count: Int(array.pointee.len)))
}

struct UIMPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<QmiClientUim>
    init(_ pointer: UnsafeMutablePointer<QmiClientUim>) { self.pointer = pointer }
}
