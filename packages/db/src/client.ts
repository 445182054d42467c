/**
 * The one way to get a Prisma client: over node-postgres through Prisma's pg
 * adapter (Prisma 7 runs its query compiler as WASM, so no native engine is needed).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.js';
import type { Prisma } from './generated/prisma/client.js';

export type Db = PrismaClient;
/** A client or an open transaction: repositories accept either, so services compose them in one transaction. */
export type DbOrTx = PrismaClient | Prisma.TransactionClient;

export interface CreateDbOptions {
  /** Pool size. The embedded PGlite server takes one connection only. */
  maxConnections?: number;
}

export function createDb(connectionString: string, options: CreateDbOptions = {}): Db {
  const adapter = new PrismaPg({ connectionString, max: options.maxConnections ?? 5 });
  return new PrismaClient({ adapter });
}

// Next's dev server re-evaluates modules on every change; the global keeps one pool per URL.
const holder = globalThis as typeof globalThis & { __strataDb?: Map<string, Db> };

/** The process-wide client for a URL (created on first use). */
export function sharedDb(connectionString: string, options: CreateDbOptions = {}): Db {
  holder.__strataDb ??= new Map();
  let db = holder.__strataDb.get(connectionString);
  if (!db) {
    db = createDb(connectionString, options);
    holder.__strataDb.set(connectionString, db);
  }
  return db;
}
