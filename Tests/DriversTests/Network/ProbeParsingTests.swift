import Testing
@testable import Drivers

struct ProbeParsingTests {
    @Test func urlsOfPlainHTTPOnly() throws {
        let full = try ProbeURL("http://198.51.100.10:8080/ip?format=text")
        #expect([full.host, "\(full.port)", full.path] == ["198.51.100.10", "8080", "/ip?format=text"])
        let bare = try ProbeURL("http://example.net")
        #expect([bare.host, "\(bare.port)", bare.path] == ["example.net", "80", "/"])
        for bad in ["https://example.net/", "ftp://x/", "http:///nohost", "not a url", "http://x:0/"] {
            #expect(throws: ProbeFailure.self, "\(bad)") { try ProbeURL(bad) }
        }
    }

    @Test func answersWithALengthAreCompleteWithoutWaitingForClose() throws {
        let partial = Array("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n100.64".utf8)
        let whole = partial + Array(".2.2\n".utf8)
        #expect(!HTTPProbeResponse.isComplete(partial))
        #expect(HTTPProbeResponse.isComplete(whole))
        let answer = try HTTPProbeResponse(whole)
        #expect(answer.status == 200)
        #expect(answer.body == "100.64.2.2\n")
        #expect(try HTTPProbeResponse(Array("HTTP/1.0 204 No Content\r\n\r\n".utf8)).status == 204)
    }

    @Test func garbageAnswersSayWhatWasWrong() {
        #expect(throws: ProbeFailure.self) { try HTTPProbeResponse([]) }
        #expect(throws: ProbeFailure.self) { try HTTPProbeResponse(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
        #expect(throws: ProbeFailure.self) { try HTTPProbeResponse(Array("HTTP/1.1 200 OK\r\nContent-".utf8)) }
    }

    @Test func timeoutsReadAsOperatorsWriteThem() {
        #expect(SocketHealthProbe.seconds(.seconds(5)) == "5s")
        #expect(SocketHealthProbe.seconds(.milliseconds(700)) == "0.7s")
        #expect(SocketHealthProbe.seconds(.milliseconds(1500)) == "1.5s")
    }
}
