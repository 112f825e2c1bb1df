import ContactSyncFFI
import Foundation

#if canImport(os)
import os
#endif

/// The engine's log lines, for the app's logs.
///
/// The engine logs at its stages' boundaries — an import's and a sync's start and end with their
/// counts, each request's method, path (never its query) and status, retries and backoff, schema
/// migrations — and never a contact's data: no name, number, address, hash or user reference.
///
/// ```swift
/// // Once, at launch:
/// ContactSyncLogging.install(OSLogSink(), level: .info)
/// ```
public enum ContactSyncLogging {
    /// Sends the engine's lines at `level` and above to `sink`, for the whole process. A later call
    /// replaces the sink and the level; `.off` silences. `sink` is called on the thread that logs
    /// (an import's, a sync's): keep it cheap; what it throws is ignored.
    public static func install(_ sink: LogSink, level: LogLevel = .info) {
        installLogSink(sink: sink, level: level)
    }
}

#if canImport(os)
/// The engine's lines in the unified log (Console.app, `log stream`), under `subsystem` and
/// `category`. Messages are logged as public: they carry no contact data, and redacted lines would
/// say nothing in a sysdiagnose.
public final class OSLogSink: LogSink, Sendable {
    private let logger: os.Logger

    public init(subsystem: String = "io.github.contactsync", category: String = "engine") {
        logger = os.Logger(subsystem: subsystem, category: category)
    }

    public func log(record: LogRecord) throws {
        let type: OSLogType
        switch record.level {
        case .error: type = .error
        case .warn: type = .default
        case .info: type = .info
        case .debug, .trace: type = .debug
        case .off: return
        }
        logger.log(level: type, "\(record.message, privacy: .public)")
    }
}
#endif

/// The engine's lines as text, one per line (`WARN contactsync_core::engine::network: sync: ...`),
/// to a file handle: standard error by default. Usable everywhere, Linux included (a server, a
/// command-line tool, tests).
public final class TextLogSink: LogSink, @unchecked Sendable {
    // Writes hold the lock (lines from two threads never interleave), which is why the class can be
    // @unchecked Sendable.
    private let handle: FileHandle
    private let lock = NSLock()

    public init(_ handle: FileHandle = .standardError) {
        self.handle = handle
    }

    public func log(record: LogRecord) throws {
        let line = "\(Self.name(record.level)) \(record.target): \(record.message)\n"
        lock.lock()
        defer { lock.unlock() }
        handle.write(Data(line.utf8))
    }

    private static func name(_ level: LogLevel) -> String {
        switch level {
        case .off: return "OFF"
        case .error: return "ERROR"
        case .warn: return "WARN"
        case .info: return "INFO"
        case .debug: return "DEBUG"
        case .trace: return "TRACE"
        }
    }
}
