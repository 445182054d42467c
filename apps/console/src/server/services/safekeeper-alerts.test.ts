import { describe, expect, it } from 'vitest';
import { SAFEKEEPER_BEHIND_BYTES_ALERT, safekeeperAlerts } from './safekeeper-alerts';

const conf = { generation: 3, members: [1, 2, 3] };

describe('[ALERTS][SAFEKEEPERS] a member out of its timeline, or behind', () => {
  it('a member that answered without the timeline is critical; one behind past the threshold warns', () => {
    const head = 900_000_000n;
    expect(
      safekeeperAlerts('main', [
        { nodeId: 1, answered: true, timeline: { flushLsn: head, conf } },
        { nodeId: 2, answered: true },
        { nodeId: 3, answered: true, timeline: { flushLsn: head - SAFEKEEPER_BEHIND_BYTES_ALERT - 1n, conf } },
      ]),
    ).toEqual([
      { severity: 'critical', message: 'branch main: safekeeper 2 is a member of the timeline (generation 3) but does not hold it', href: '/safekeepers' },
      { severity: 'warning', message: `branch main: safekeeper 3 is ${SAFEKEEPER_BEHIND_BYTES_ALERT + 1n} bytes behind the timeline's head`, href: '/safekeepers' },
    ]);
  });

  it('the newest configuration decides membership; a node that did not answer, or a small lag, says nothing', () => {
    const old = { generation: 2, members: [1, 2, 4] };
    expect(
      safekeeperAlerts('main', [
        { nodeId: 1, answered: true, timeline: { flushLsn: 100n, conf } },
        { nodeId: 2, answered: false },
        { nodeId: 3, answered: true, timeline: { flushLsn: 90n, conf } },
        // Removed by generation 3: not holding the timeline is expected.
        { nodeId: 4, answered: true, timeline: { flushLsn: 50n, conf: old } },
      ]),
    ).toEqual([]);
    expect(safekeeperAlerts('main', [{ nodeId: 1, answered: true }])).toEqual([]);
  });
});
