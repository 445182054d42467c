/**
 * An operation's input or result as a list of fields, not raw JSON: a nested value is written out
 * compactly on its own line.
 */
export function ValueList({ value, testId }: { value: unknown; testId: string }) {
  if (value === null || value === undefined) return <p className="hint" data-testid={testId}>none</p>;
  if (typeof value !== 'object' || Array.isArray(value)) return <p className="mono" data-testid={testId}>{show(value)}</p>;
  const entries = Object.entries(value);
  if (entries.length === 0) return <p className="hint" data-testid={testId}>none</p>;
  return (
    <dl className="kv" data-testid={testId}>
      {entries.map(([k, v]) => (
        <div key={k} style={{ display: 'contents' }}>
          <dt>{k}</dt>
          <dd className="mono">{show(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map(show).join(', ');
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${show(x)}`)
    .join('; ');
}
