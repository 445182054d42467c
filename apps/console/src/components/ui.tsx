export interface ErrorLike {
  message: string;
  data?: { code?: string; strata?: { code: string; service: string | null; serviceCode: string | null } | null } | null;
}

/** A failed call as the service typed it: its code, the service that raised it, the message. */
export function ErrorBox({ error }: { error: ErrorLike | null | undefined }) {
  if (!error) return null;
  const s = error.data?.strata;
  return (
    <div className="error" role="alert">
      <code>{s?.serviceCode ?? s?.code ?? error.data?.code ?? 'ERROR'}</code>
      {s?.service ? <span> from {s.service}</span> : null}: {error.message}
    </div>
  );
}

export function Lsn({ value }: { value: string | null | undefined }) {
  return <span className="mono">{value ?? '—'}</span>;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}
