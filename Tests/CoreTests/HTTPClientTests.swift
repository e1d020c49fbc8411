import Foundation
import Testing
import TestSupport

@testable import Core

@Suite struct HTTPClientTests {
    @Test func sendsMethodHeadersAndBodyAndReturnsStatusHeadersAndBody() async throws {
        let server = try LocalHTTPServer { request in
            .json(201, "{\"echo\":\(String(decoding: request.body, as: UTF8.self))}", headers: [("x-request-id", "req_1")])
        }
        defer { server.stop() }
        struct Payload: Codable, Equatable { var text: String }
        let request = try HTTPRequest.json(server.baseURL + "/v1/things?x=1", Payload(text: "Привет 😀"), headers: [("x-api-key", "k-123")])
        let response = try await HTTPClient().send(request)
        #expect(response.status == 201)
        #expect(response[header: "X-Request-Id"] == "req_1")
        struct Echo: Decodable { var echo: Payload }
        #expect(try response.decode(Echo.self).echo == Payload(text: "Привет 😀"))
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.path == "/v1/things?x=1")
        #expect(seen.headers["x-api-key"] == "k-123")
        #expect(seen.headers["content-type"] == "application/json")
    }

    @Test func slowServerTimesOut() async throws {
        let server = try LocalHTTPServer { _ in .delay(3, then: .init(status: 200)) }
        defer { server.stop() }
        let error = await #expect(throws: HTTPError.self) {
            try await HTTPClient().send(HTTPRequest(url: server.baseURL + "/slow", timeout: .milliseconds(300)))
        }
        #expect(error?.code == .timeout)
        #expect(error?.isTransient == true)
    }

    @Test func droppedConnectionIsATransferFailure() async throws {
        let server = try LocalHTTPServer { _ in .drop }
        defer { server.stop() }
        let error = await #expect(throws: HTTPError.self) {
            try await HTTPClient().send(HTTPRequest(url: server.baseURL + "/drop"))
        }
        #expect(error?.code == .transferFailed)
    }

    @Test func refusedConnectionNamesNoSecret() async throws {
        // Bind then close a listener, so the port is known to be closed.
        let server = try LocalHTTPServer { _ in .drop }
        let port = server.port
        server.stop()
        let token = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
        let error = await #expect(throws: HTTPError.self) {
            try await HTTPClient(redactor: SecretRedactor()).send(HTTPRequest(url: "http://127.0.0.1:\(port)/bot\(token)/getMe?chat_id=secretquery"))
        }
        #expect(error?.code == .connectionFailed)
        let text = error?.description ?? ""
        #expect(!text.contains("AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"))
        #expect(!text.contains("secretquery"))
        #expect(text.contains("/bot123456789:[REDACTED]/getMe"))
    }

    @Test func nonHTTPSchemesAreRefused() async throws {
        let error = await #expect(throws: HTTPError.self) {
            try await HTTPClient().send(HTTPRequest(url: "file:///etc/passwd"))
        }
        #expect(error?.code == .invalidRequest)
    }
}

@Suite struct ZlibTests {
    @Test func roundTripsLargeBinaryData() throws {
        var generator = SystemRandomNumberGenerator()
        let random = Data((0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let text = Data(String(repeating: "Слава 😀 mirror ", count: 20_000).utf8)
        for input in [Data(), random, text] {
            #expect(try Zlib.decompress(Zlib.compress(input)) == input)
        }
        #expect(try Zlib.compress(text).count < text.count / 10)
    }

    @Test func readsGzipWrittenByOtherTools() throws {
        // Python's gzip.compress(b"Telegram \xf0\x9f\x9a\x80 mirror\n" * 3, mtime=0)
        let gz = try #require(Data(base64Encoded: "H4sIAAAAAAACAwtJzUlNL0rMVfgwf1aDQm5mUVF+EVcI0YIA7F4u+z8AAAA="))
        #expect(String(decoding: try Zlib.decompress(gz), as: UTF8.self) == String(repeating: "Telegram 🚀 mirror\n", count: 3))
    }

    @Test func ourOutputIsGzip() throws {
        let compressed = try Zlib.compress(Data("x".utf8))
        #expect(compressed.prefix(2) == Data([0x1F, 0x8B]))
    }

    @Test func truncatedOrGarbageInputIsAnErrorAndBombsAreCapped() throws {
        let compressed = try Zlib.compress(Data(repeating: 7, count: 100_000))
        #expect(throws: Zlib.Error.self) { try Zlib.decompress(compressed.prefix(compressed.count / 2)) }
        #expect(throws: Zlib.Error.self) { try Zlib.decompress(Data("not compressed at all".utf8)) }
        #expect(throws: Zlib.Error.self) { try Zlib.decompress(compressed, limit: 1000) }
    }
}
