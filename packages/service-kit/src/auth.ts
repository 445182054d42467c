/**
 * JWT auth, as in Neon: every request carries `Authorization: Bearer <jwt>`
 * signed by the cluster's key (Ed25519 "EdDSA", or an HS256 secret), with a
 * `scope` claim:
 *   - `admin`: operators and the console, everything;
 *   - `safekeeperdata`: peers and the page server, every tenant's data;
 *   - `tenant` with `tenant_id`: a compute, its own tenant's timelines only;
 *   - `pageserverapi`: the page server's API: its admin routes, and its
 *     reports to the safekeepers (what it persisted).
 * Each service names which scopes may do what in its own `Policy`.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createMiddleware } from 'hono/factory';
import { importPKCS8, importSPKI, jwtVerify, SignJWT, errors as joseErrors, type CryptoKey } from 'jose';
import { z } from 'zod';
import { ConfigError } from './config.js';
import { Forbidden, Unauthenticated } from './errors.js';

export const SCOPES = ['admin', 'safekeeperdata', 'tenant', 'pageserverapi'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Claims {
  scope: Scope;
  /** Set for `tenant` scope: the only tenant it may touch. */
  tenantId: string | undefined;
  /** True when the service runs without a key (loopback only): every request is trusted. */
  unauthenticated: boolean;
}

const claimsSchema = z
  .object({
    scope: z.enum(SCOPES),
    tenant_id: z.string().regex(/^[0-9a-f]{32}$/, 'tenant_id must be 32 lowercase hex digits').optional(),
  })
  .refine((c) => c.scope !== 'tenant' || c.tenant_id !== undefined, 'a tenant token needs a tenant_id claim');

export interface TokenVerifier {
  readonly algorithm: 'EdDSA' | 'HS256';
  verify(token: string): Promise<Claims>;
}

export function createVerifier(key: CryptoKey | Uint8Array, algorithm: 'EdDSA' | 'HS256'): TokenVerifier {
  return {
    algorithm,
    async verify(token) {
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, key, { algorithms: [algorithm] }));
      } catch (e) {
        const reason = e instanceof joseErrors.JWTExpired ? 'token expired' : 'token signature or format invalid';
        throw new Unauthenticated(reason);
      }
      const r = claimsSchema.safeParse(payload);
      if (!r.success) throw new Unauthenticated(`token claims invalid: ${r.error.issues.map((i) => i.message).join('; ')}`);
      return { scope: r.data.scope, tenantId: r.data.tenant_id, unauthenticated: false };
    },
  };
}

/** A key file's text; one that cannot be read is a configuration error (the service cannot start), not a crash. */
async function readKeyFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the ${what} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Loads the verifier from an Ed25519 public key (PEM, SPKI) or an HS256
 * secret file. A missing, unreadable or malformed key is a ConfigError: the
 * service's main prints it on one line and exits.
 */
export async function loadVerifier(source: { publicKeyFile?: string | undefined; hs256SecretFile?: string | undefined }): Promise<TokenVerifier | null> {
  if (source.publicKeyFile) {
    const pem = await readKeyFile(source.publicKeyFile, 'JWT public key');
    let key: CryptoKey;
    try {
      key = await importSPKI(pem, 'EdDSA');
    } catch (e) {
      throw new ConfigError(`${source.publicKeyFile} is not an Ed25519 public key (PEM, SPKI): ${e instanceof Error ? e.message : String(e)}`);
    }
    return createVerifier(key, 'EdDSA');
  }
  if (source.hs256SecretFile) {
    const secret = (await readKeyFile(source.hs256SecretFile, 'HS256 secret file')).trim();
    if (secret.length < 32) throw new ConfigError(`HS256 secret in ${source.hs256SecretFile} is shorter than 32 characters`);
    return createVerifier(new TextEncoder().encode(secret), 'HS256');
  }
  return null;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.toLowerCase().startsWith('::ffff:127.');
  return false;
}

/**
 * The rule for running without a key: allowed on a loopback listener only.
 * Returns the warning to log loudly, or throws (ConfigError) for any other address.
 */
export function checkAuthPolicy(listenHost: string, verifier: TokenVerifier | null): string | undefined {
  if (verifier) return undefined;
  if (!isLoopbackHost(listenHost)) {
    throw new ConfigError(
      `refusing to listen on ${listenHost} without auth: configure a JWT key (--auth-public-key or --auth-hs256-secret-file) or listen on a loopback address`,
    );
  }
  return `AUTH IS DISABLED: no JWT key configured; serving unauthenticated requests on loopback ${listenHost} only`;
}

export type AuthEnv = { Variables: { claims: Claims } };

const UNAUTHENTICATED: Claims = { scope: 'admin', tenantId: undefined, unauthenticated: true };

/** Verifies the bearer token of every request and stores its claims. */
export function authMiddleware(verifier: TokenVerifier | null) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    if (!verifier) {
      c.set('claims', UNAUTHENTICATED);
      return next();
    }
    const header = c.req.header('authorization');
    if (!header) throw new Unauthenticated('missing Authorization header');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new Unauthenticated('Authorization header is not "Bearer <token>"');
    c.set('claims', await verifier.verify(m[1]!));
    return next();
  });
}

/**
 * Throws Forbidden unless the claims carry one of `scopes`; a `tenant` token
 * passes a tenant's route only for its own tenant.
 */
export function authorize(claims: Claims, scopes: readonly Scope[], tenantId?: string): void {
  if (claims.unauthenticated) return;
  if (!scopes.includes(claims.scope)) {
    throw new Forbidden(`scope "${claims.scope}" may not do this; needs one of ${scopes.join(', ')}`);
  }
  // Routes about no tenant (status) that admit `tenant` tokens admit any tenant's; tenant routes only the token's own.
  if (claims.scope === 'tenant' && tenantId !== undefined && claims.tenantId !== tenantId) {
    throw new Forbidden(`a token for tenant ${claims.tenantId} may not touch tenant ${tenantId ?? '(none)'}`);
  }
}

/** A service's table of who may do what: named lists of scopes. */
export type Policy = Record<string, readonly Scope[]>;

/** The claims of a token to sign: a scope, and the tenant for `tenant` tokens. */
export type TokenClaims = { scope: Exclude<Scope, 'tenant'> } | { scope: 'tenant'; tenantId: string };

/**
 * Signs a token with an Ed25519 private key (PEM, PKCS#8): how a local
 * cluster's CLI makes the tokens of its services and computes. No expiry
 * unless `expiresIn` is given: the key never leaves the cluster's home.
 */
export async function signToken(privateKeyPem: string, claims: TokenClaims, expiresIn?: string): Promise<string> {
  const key = await importPKCS8(privateKeyPem, 'EdDSA');
  const payload = claims.scope === 'tenant' ? { scope: claims.scope, tenant_id: claims.tenantId } : { scope: claims.scope };
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA' }).setIssuedAt();
  if (expiresIn !== undefined) jwt.setExpirationTime(expiresIn);
  return jwt.sign(key);
}
