import type { OperationOut } from '../../server/routers/shapes';

/**
 * Where a running operation is: "step 2 of 3: name — its latest progress line". The step running now,
 * else the next one not started (between steps); nothing once the operation ended.
 */
export function CurrentStep({ op }: { op: Pick<OperationOut, 'status' | 'steps'> }) {
  if (op.status !== 'running' && op.status !== 'scheduled') return null;
  const s = op.steps.find((x) => x.status === 'running') ?? op.steps.find((x) => x.status === 'scheduled');
  if (!s) return null;
  return (
    <div className="hint" data-testid="current-step">
      step {s.position + 1} of {op.steps.length}: {s.name}
      {s.detail ? ` — ${s.detail}` : s.status === 'scheduled' ? ' (starting)' : ''}
    </div>
  );
}
