/** The safekeeper's WAL stream wire format, shared by the safekeepers (sending, and reading as peers) and the page server. */
export * from './wal-stream-codec.js';
