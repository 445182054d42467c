import { describe, expect, it } from 'vitest';
import { runningReadWrite } from './computes';

const file = (name: string, mode: string, timelineId: string, controllerPid: number) => ({ name, mode, timelineId, controlUrl: 'http://127.0.0.1:1', connectionUrl: `mysql://root:pw@127.0.0.1:${controllerPid}/`, controllerPid });

describe('a second read-write compute on a branch answers with the running one', () => {
  const files = [file('main-ro-head', 'read-only', 'aa', 10), file('dev', 'read-write', 'bb', 11), file('main', 'read-write', 'aa', 12)];
  it('finds the branch read-write compute whose controller is alive', () => {
    expect(runningReadWrite(files, 'aa', () => true)?.name).toBe('main');
  });
  it('a stopped one (its controller gone) or a read-only one does not count', () => {
    expect(runningReadWrite(files, 'aa', (pid) => pid !== 12)).toBeUndefined();
    expect(runningReadWrite([files[0]!], 'aa', () => true)).toBeUndefined();
  });
});
