/** `1.2 s`, `340 ms` or `2 min 5 s` between two ISO times; a running one counts to now; '—' before it starts. */
export function duration(startIso: string | null, endIso: string | null, nowMs: number = Date.now()): string {
  if (!startIso) return '—';
  const ms = Math.max(0, (endIso ? Date.parse(endIso) : nowMs) - Date.parse(startIso));
  const text = ms < 1_000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return endIso ? text : `${text} so far`;
}
