/**
 * TEST BUILD ONLY: the page server with one deliberately unguarded
 * assertion, the fuzzer's proof that it catches one (fuzz.test.ts
 * [PLANTED]). It runs the real page server (`main`, as `./strata pageserver`
 * does) after wrapping GetPageService so that a GetPage request for space
 * id 2^32−1, a value any client can send, fails an assertion: the route
 * answers 500 and the process exits (code 70), as for a real bug.
 *
 * Why this cannot reach production: the plant lives in this file only,
 * under test/, which no build bundles (scripts/build.mjs bundles
 * apps/<app>/src/bin.ts) and nothing but the fuzz harness starts (with tsx,
 * from source). The production sources are unchanged.
 */
import { assert } from '@strata/core';
import { GETPAGE_REQUEST_BYTES } from '@strata/core/getpage';
import { GetPageService } from '../../../apps/pageserver/src/data-path/getpage-service.js';
import { main } from '../../../apps/pageserver/src/main.js';

const PLANTED_BUG_MESSAGE = 'STRATA_FUZZ_PLANTED_BUG: GetPage of space 4294967295';

function plant(req: Uint8Array): void {
  const v = new DataView(req.buffer, req.byteOffset, req.byteLength);
  for (let o = 0; o + GETPAGE_REQUEST_BYTES <= req.length; o += GETPAGE_REQUEST_BYTES) assert(v.getUint32(o) !== 0xffff_ffff, PLANTED_BUG_MESSAGE);
}

const serve = GetPageService.prototype.serve;
const serveParts = GetPageService.prototype.serveParts;
GetPageService.prototype.serve = async function (this: GetPageService, ...args: Parameters<typeof serve>) {
  plant(args[1]);
  return serve.apply(this, args);
};
GetPageService.prototype.serveParts = async function (this: GetPageService, ...args: Parameters<typeof serveParts>) {
  plant(args[1]);
  return serveParts.apply(this, args);
};

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pageserver (planted bug): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
