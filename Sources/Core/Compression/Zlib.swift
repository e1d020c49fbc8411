internal import CZlib
import Foundation

/// gzip compression through zlib, for session blobs and archived raw payloads.
public enum Zlib {
    /// A zlib failure with the function and its return code.
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let function: String
        public let code: Int32
        public let message: String
        public var description: String { "zlib \(function) returned \(code): \(message)" }
    }

    /// gzip-wrapped (RFC 1952) so the output also opens with `gunzip`.
    public static func compress(_ data: Data, level: Int32 = 6) throws -> Data {
        var stream = z_stream()
        try check(czlib_deflate_init2(&stream, level, 15 + 16), "deflateInit2", stream)
        defer { deflateEnd(&stream) }
        return try pump(&stream, input: data, function: "deflate", limit: .max) { deflate(&$0, Z_FINISH) }
    }

    /// Inflates gzip or zlib data (the header is detected).
    ///
    /// - Parameter limit: refuse output larger than this many bytes (a guard against decompression bombs).
    public static func decompress(_ data: Data, limit: Int = 256 << 20) throws -> Data {
        var stream = z_stream()
        try check(czlib_inflate_init2(&stream, 15 + 32), "inflateInit2", stream)
        defer { inflateEnd(&stream) }
        return try pump(&stream, input: data, function: "inflate", limit: limit) { inflate(&$0, Z_NO_FLUSH) }
    }

    /// Feeds `input` through `step` in 64 KiB output chunks until the stream ends.
    private static func pump(
        _ stream: inout z_stream, input: Data, function: String, limit: Int, step: (inout z_stream) -> Int32
    ) throws -> Data {
        var output = Data()
        let chunk = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(raw.count)
            var status: Int32 = Z_OK
            repeat {
                status = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return step(&stream)
                }
                switch status {
                case Z_OK, Z_STREAM_END:
                    break
                case Z_BUF_ERROR where stream.avail_in == 0 && stream.avail_out == uInt(chunk):
                    throw Error(function: function, code: status, message: "input is truncated")
                case Z_BUF_ERROR:
                    break
                default:
                    try check(status, function, stream)
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                if output.count > limit {
                    throw Error(function: function, code: Z_MEM_ERROR, message: "output exceeds \(limit) bytes")
                }
            } while status != Z_STREAM_END
        }
        return output
    }

    private static func check(_ code: Int32, _ function: String, _ stream: z_stream) throws {
        guard code != Z_OK else { return }
        let message = stream.msg.map { String(cString: $0) } ?? "error \(code)"
        throw Error(function: function, code: code, message: message)
    }
}
