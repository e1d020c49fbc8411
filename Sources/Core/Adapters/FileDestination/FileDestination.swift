import Foundation

/// Publishes into a folder: one JSON line per unit in `publications.jsonl`, and a side-by-side review page
/// `index.html` rewritten after each run. Used for dry runs and for reviewing translations before going live.
///
/// Each record is appended with a single `write` on an `O_APPEND` descriptor under an exclusive `flock`. A
/// torn last line left by a crash is cut off before the next append, and ``findPublished(key:)`` answers from complete lines only,
/// so a unit interrupted mid-write is published again and never twice.
public struct FileDestination: Destination {
    public let directory: URL
    public var journalURL: URL { directory.appendingPathComponent("publications.jsonl") }
    public var pageURL: URL { directory.appendingPathComponent("index.html") }

    public init(directory: String) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
    }

    /// The file destination's error: the folder or file and what went wrong.
    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "cannot write \(path): \(reason); check that the DST_CHANNEL folder is writable" }
    }

    /// One record per unit, written in one append, so there is nothing to journal.
    public func publish(_ unit: PublicationUnit, journal: any PublicationJournal) async throws -> [[String]] {
        try await publish(unit).map { [$0] }
    }

    public func findPublished(key: String, postIDs: [Int64], journal: any PublicationJournal) async throws -> PublishedLookup {
        try await findPublished(key: key).map { .arrived($0.map { [$0] }) } ?? .missing
    }

    /// An edit appends the post's new version as a record of its own, so the journal keeps every version.
    public func edit(_ post: PublicationUnit, journal: any PublicationJournal) async throws -> [String] {
        let ids = post.items.map { "\(post.key)#\($0.source.editDate.map { String(Int($0.timeIntervalSince1970)) } ?? "edit")" }
        var record = PublicationRecord(unit: post, destinationIDs: ids, publishedAt: Date())
        // Its own key, so reconciling the original unit never mistakes the edit for it.
        record.key += "/edit"
        try append(try Self.line(record))
        return ids
    }

    /// Appends the unit's record and returns one id per item.
    public func publish(_ unit: PublicationUnit) async throws -> [String] {
        let ids = unit.items.indices.map { "\(unit.key)#\($0 + 1)" }
        try append(try Self.line(PublicationRecord(unit: unit, destinationIDs: ids, publishedAt: Date())))
        return ids
    }

    static func line(_ record: PublicationRecord) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// The ids of the last complete record for `key`, or `nil` when the unit is not in the journal file.
    public func findPublished(key: String) async throws -> [String]? {
        try readRecords().last { $0.key == key }?.destinationIDs
    }

    public func finishRun(published: Int) async throws {
        // An idle run leaves the page as it is; the first run writes it even when there is nothing yet.
        guard published > 0 || !FileManager.default.fileExists(atPath: pageURL.path) else { return }
        try createDirectory()
        let records = try readRecords()
        let html = ReviewPage.render(records)
        do {
            try Data(html.utf8).write(to: pageURL, options: .atomic)
        } catch {
            throw WriteError(path: pageURL.path, reason: "cannot write the file")
        }
    }

    /// Every complete record, in publication order.
    public func readRecords() throws -> [PublicationRecord] {
        guard let data = FileManager.default.contents(atPath: journalURL.path) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(PublicationRecord.self, from: Data($0)) }
    }

    private func createDirectory() throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw WriteError(path: directory.path, reason: "cannot create folder")
        }
    }

    private func append(_ line: Data) throws {
        try createDirectory()
        let fd = open(journalURL.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteError(path: journalURL.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // Another process may be appending (another route into the same folder, an overlapping run): without
        // the lock, its half-written line would look torn and be cut off.
        guard flock(fd, LOCK_EX) == 0 else { throw WriteError(path: journalURL.path, reason: String(cString: strerror(errno))) }
        try cutTornTail(fd)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw WriteError(path: journalURL.path, reason: written < 0 ? String(cString: strerror(errno)) : "short write") }
        guard fsync(fd) == 0 else { throw WriteError(path: journalURL.path, reason: String(cString: strerror(errno))) }
    }

    /// A crash mid-append leaves a last line without its newline; drop it so the next record starts clean.
    private func cutTornTail(_ fd: Int32) throws {
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return }
        var last: UInt8 = 0
        guard pread(fd, &last, 1, size - 1) == 1, last != UInt8(ascii: "\n") else { return }
        // Find the last newline by reading backwards in blocks.
        var position = size
        var keep: off_t = 0
        var block = [UInt8](repeating: 0, count: 4096)
        search: while position > 0 {
            let length = min(off_t(block.count), position)
            position -= length
            let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(length), position) }
            guard n == Int(length) else { break }
            for i in stride(from: Int(length) - 1, through: 0, by: -1) where block[i] == UInt8(ascii: "\n") {
                keep = position + off_t(i) + 1
                break search
            }
        }
        guard ftruncate(fd, keep) == 0 else { throw WriteError(path: journalURL.path, reason: String(cString: strerror(errno))) }
    }
}

/// One line of `publications.jsonl`.
public struct PublicationRecord: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public var sourceChatID: Int64
        public var sourceMessageID: Int64
        public var destinationID: String
        public var date: Date
        public var albumID: String?
        public var source: FormattedText
        public var published: FormattedText
        public var media: [MediaDescriptor]

        enum CodingKeys: String, CodingKey {
            case sourceChatID = "source_chat_id"
            case sourceMessageID = "source_message_id"
            case destinationID = "destination_id"
            case date
            case albumID = "album_id"
            case source, published, media
        }
    }

    public var key: String
    public var routeID: Int64
    public var targetLanguage: String
    public var publishedAt: Date
    public var items: [Item]

    public var destinationIDs: [String] { items.map(\.destinationID) }

    enum CodingKeys: String, CodingKey {
        case key
        case routeID = "route_id"
        case targetLanguage = "target_lang"
        case publishedAt = "published_at"
        case items
    }

    init(unit: PublicationUnit, destinationIDs: [String], publishedAt: Date) {
        key = unit.key
        routeID = unit.routeID
        targetLanguage = unit.targetLanguage.description
        self.publishedAt = publishedAt
        items = zip(unit.items, destinationIDs).map { item, id in
            Item(
                sourceChatID: item.source.chatID,
                sourceMessageID: item.source.messageID,
                destinationID: id,
                date: item.source.date,
                albumID: item.source.albumID,
                source: item.source.content,
                published: item.content,
                media: item.source.media
            )
        }
    }
}
