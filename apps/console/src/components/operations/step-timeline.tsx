import type { OperationOut } from '../../server/routers/shapes';
import { LocalTime } from '../local-time';
import { duration } from './duration';

const MARK: Record<string, string> = { finished: '✔', failed: '✘', cancelled: '⊘', running: '…', scheduled: '○' };

/** Each step of an operation with its progress line, when it started and how long it took. */
export function StepTimeline({ steps }: { steps: OperationOut['steps'] }) {
  return (
    <table data-testid="operation-steps">
      <thead><tr><th>#</th><th>Step</th><th>Status</th><th>Started</th><th>Took</th><th>Progress</th></tr></thead>
      <tbody>
        {steps.map((s) => (
          <tr key={s.position} data-step-status={s.status}>
            <td>{s.position + 1}</td>
            <td>{s.name}</td>
            <td className={s.status === 'failed' ? 'bad' : s.status === 'finished' ? 'ok' : 'warn'}>{MARK[s.status] ?? ''} {s.status}</td>
            <td>{s.startedAt ? <LocalTime iso={s.startedAt} /> : '—'}</td>
            <td>{duration(s.startedAt, s.finishedAt)}</td>
            <td className="mono" data-testid="step-detail">{s.detail ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
