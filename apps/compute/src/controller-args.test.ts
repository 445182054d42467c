import { describe, expect, it } from 'vitest';
import { ControllerUsageError, parseControllerArgs } from './controller-args.js';

const io = { out: () => undefined, log: () => undefined };
const env = { token: 'tok', dbUser: 'root', dbPassword: 'pw' };
const base = ['--pageserver', '127.0.0.1:7000', '--safekeepers', '127.0.0.1:7001', '--tenant', 'a'.repeat(32), '--timeline', 'b'.repeat(32), '--data', '/tmp/c'];

describe('[CONTROLLER ARGS] the controller program refuses a bad command line before anything starts', () => {
  it('flags and the environment become the controller\'s arguments; secrets only from the environment', () => {
    const a = parseControllerArgs([...base, '--name', 'main', '--port', '3400', '--read-only', '--lsn', '12345', '--openable-root', '/h', '--storage', 'fuse', '--lfc-mib', '64'], env, io);
    expect(a).toMatchObject({ pageserver: '127.0.0.1:7000', tenantId: 'a'.repeat(32), dataDir: '/tmp/c', name: 'main', port: 3400, readOnly: true, lsn: 12345n, openableRoots: ['/h'], storage: 'fuse', lfcMib: 64, token: 'tok', dbUser: 'root', dbPassword: 'pw' });
  });

  it.each([
    ['a tenant that is not 32 hex digits', ['--tenant', 'xyz']],
    ['a port out of range', ['--port', '70000']],
    ['an LSN that is not a decimal u64', ['--lsn', '-1']],
    ['an unknown storage', ['--storage', 'nfs']],
    ['a buffer pool below 8 MiB', ['--buffer-pool-mib', '4']],
    ['a name with a slash', ['--name', 'a/b']],
  ])('%s is a usage error naming the flag', (_what, flags) => {
    expect(() => parseControllerArgs([...base, ...flags], env, io)).toThrow(ControllerUsageError);
    expect(() => parseControllerArgs([...base, ...flags], env, io)).toThrow(new RegExp(`--${flags[0]!.slice(2)}`));
  });

  it('a missing --data or a stray argument is refused', () => {
    expect(() => parseControllerArgs(base.slice(0, -2), env, io)).toThrow(/--data/);
    expect(() => parseControllerArgs([...base, 'extra'], env, io)).toThrow(/unexpected argument extra/);
  });
});
