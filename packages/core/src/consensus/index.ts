export * from './types.js';
export * from './messages.js';
export * from './codec.js';
export * from './quorum.js';
export * from './term-history.js';
export * from './acceptor.js';
export * from './proposer.js';
export * from './coordinator.js';
