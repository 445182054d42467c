export * from './auth.js';
export * from './config.js';
export * from './errors.js';
export * from './http.js';
export * from './log.js';
export * from './metrics.js';
export * from './validate.js';
export * from './body.js';
