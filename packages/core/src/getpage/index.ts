/** The page server's GetPage wire formats: the HTTP batch and the pipelined stream, shared by the server and its clients. */
export * from './getpage-codec.js';
export * from './getpage-stream-codec.js';
