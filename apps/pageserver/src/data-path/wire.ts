/** The page server's binary wire formats, for its clients (CLI, compute, tests). */
export * from './getpage-codec.js';
export * from './tar.js';
export * from './tar-dir-sink.js';
export * from './getpage-stream-codec.js';
