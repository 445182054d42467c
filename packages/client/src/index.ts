export * from './proposer-driver.js';
