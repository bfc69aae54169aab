import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the signing key directory could not be used.
public enum SigningKeyStoreError: Error, Sendable, Equatable {
    /// The path exists but is not a directory.
    case notADirectory(String)
    /// A key file could not be decoded, or its contents do not match its name.
    case corruptKeyFile(String)
    /// A system call failed; `errno` says why.
    case io(operation: String, path: String, errno: Int32)
}

/// The POSIX side of the key directory: owner-only permissions and crash-safe writes.
enum SigningKeyFiles {
    static let directoryMode: mode_t = 0o700
    static let fileMode: mode_t = 0o600
    static let temporaryPrefix = ".tmp-"

    /// Creates `path` (and missing parents) and makes it owner-only. An existing directory with looser
    /// permissions is tightened rather than refused, so upgrading a deployment does not need manual steps.
    /// Returns whether an existing directory's permissions had to be tightened.
    @discardableResult
    static func prepareDirectory(_ path: String) throws(SigningKeyStoreError) -> Bool {
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) {
            do {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                throw .io(operation: "mkdir", path: parent, errno: EIO)
            }
        }
        let created = mkdir(path, directoryMode) == 0
        if !created, errno != EEXIST { throw .io(operation: "mkdir", path: path, errno: errno) }
        // `stat`, not `lstat`: a configured directory may well be a symlink to the real data volume.
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io(operation: "stat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(path) }
        guard info.st_mode & 0o777 != directoryMode else { return false }
        guard chmod(path, directoryMode) == 0 else { throw .io(operation: "chmod", path: path, errno: errno) }
        return !created
    }

    /// Writes `data` to `path` so that readers see either the old file or the whole new one, never a part.
    /// The temporary file is created owner-only (`O_EXCL`, mode 0600, then `fchmod` against odd umasks)
    /// before any byte of the secret reaches it.
    static func writeAtomically(_ data: Data, to path: String) throws(SigningKeyStoreError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/" + temporaryPrefix + UUID().uuidString
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw .io(operation: "open", path: temporary, errno: errno) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do throws(SigningKeyStoreError) {
            guard fchmod(fd, fileMode) == 0 else { throw .io(operation: "fchmod", path: temporary, errno: errno) }
            try writeAll(fd, data, path: temporary)
            guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: temporary, errno: errno) }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw .io(operation: "close", path: temporary, errno: errno) }
        guard rename(temporary, path) == 0 else { throw .io(operation: "rename", path: path, errno: errno) }
        renamed = true
        syncDirectory(directory)
    }

    /// Reads a key file, refusing anything but a regular file (a symlink could point the store at another
    /// secret). Tightens group/other permissions if someone loosened them; returns whether it had to.
    static func readKeyFile(_ path: String) throws(SigningKeyStoreError) -> (data: Data, tightened: Bool) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw .io(operation: "lstat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .corruptKeyFile(path) }
        var tightened = false
        if info.st_mode & 0o077 != 0 {
            guard chmod(path, fileMode) == 0 else { throw .io(operation: "chmod", path: path, errno: errno) }
            tightened = true
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw .io(operation: "read", path: path, errno: EIO) }
        return (data, tightened)
    }

    static func remove(_ path: String) throws(SigningKeyStoreError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io(operation: "unlink", path: path, errno: errno) }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    static func list(_ directory: String) throws(SigningKeyStoreError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .io(operation: "readdir", path: directory, errno: EIO)
        }
    }

    private static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(SigningKeyStoreError) {
        let failure: Int32? = data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw .io(operation: "write", path: path, errno: failure) }
    }

    /// Makes a rename or unlink durable. Best effort: some filesystems refuse fsync on directories.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
