import FrostbyteCore

extension SHA256Hasher {
    /// Streams the file at `path` through SHA-256 in 1 MiB chunks.
    /// - Returns: the digest and the file's size in bytes.
    public static func hash(fileAt path: String) throws -> (digest: SHA256Digest, size: Int64) {
        let reader = try ChunkedFileReader(path: path)
        let hasher = SHA256Hasher()
        let size = try reader.forEachChunk { hasher.update($0) }
        return (hasher.finalize(), size)
    }
}
