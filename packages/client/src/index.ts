export * from './proposer-driver.js';
export * from './consensus-stream.js';
export * from './membership-driver.js';
export * from './wire-zstd.js';
export * from './http.js';
export * from './pageserver-client.js';
export * from './pageserver-api.js';
export * from './member-join.js';
