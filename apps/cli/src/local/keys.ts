/**
 * A local cluster always runs with auth on: one Ed25519 key pair under
 * `$STRATA_HOME/keys`, tokens signed with it for each role (the CLI's admin
 * token, the page server's, the safekeepers' peer token, one per tenant for
 * computes). Files are private to the user.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClusterKeys, keyPaths } from '@strata/client/local';
import { signToken, type TokenClaims } from '@strata/service-kit';

/** Creates the key pair and role tokens once (where @strata/client/local's keyPaths puts them); later calls reuse them. */
export async function ensureKeys(home: string): Promise<ClusterKeys> {
  const k = keyPaths(home);
  mkdirSync(join(home, 'keys'), { recursive: true, mode: 0o700 });
  if (!existsSync(k.privateKeyFile)) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(k.publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
    writeFileSync(k.privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  const roles: Array<[string, TokenClaims]> = [
    [k.adminTokenFile, { scope: 'admin' }],
    [k.pageserverTokenFile, { scope: 'pageserverapi' }],
    [k.safekeeperTokenFile, { scope: 'safekeeperdata' }],
  ];
  for (const [file, claims] of roles) {
    if (!existsSync(file)) writeFileSync(file, (await mintToken(k.privateKeyFile, claims)) + '\n', { mode: 0o600 });
  }
  return k;
}

export function mintToken(privateKeyFile: string, claims: TokenClaims): Promise<string> {
  return signToken(readFileSync(privateKeyFile, 'utf8'), claims);
}
