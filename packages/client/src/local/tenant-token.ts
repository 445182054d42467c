/**
 * A compute's token: a JWT with `tenant` scope for the cluster's tenant,
 * signed with the cluster's Ed25519 key. Same claims and header as
 * service-kit's signToken (`{scope, tenant_id}`, EdDSA, iat), made with
 * node:crypto so this package does not pull the services' HTTP stack into
 * the console.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export function signTenantToken(privateKeyFile: string, tenantId: string, nowMs: number): string {
  const key = createPrivateKey(readFileSync(privateKeyFile, 'utf8'));
  const head = b64url(JSON.stringify({ alg: 'EdDSA' }));
  const body = b64url(JSON.stringify({ scope: 'tenant', tenant_id: tenantId, iat: Math.floor(nowMs / 1000) }));
  const signature = sign(null, Buffer.from(`${head}.${body}`), key);
  return `${head}.${body}.${b64url(signature)}`;
}
