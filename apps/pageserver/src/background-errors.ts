/**
 * The last error of each kind of storage work per timeline (compaction, GC,
 * basebackup; uploads keep their own in RemoteTimeline), so an operator sees
 * the real message in the timeline's status and `strata status` instead of a
 * line in a log nobody reads. Bounded: one entry per (timeline, kind), and a
 * deleted timeline's entries go with it.
 */
export const BACKGROUND_ERROR_KINDS = ['compaction', 'gc', 'upload', 'basebackup'] as const;
export type BackgroundErrorKind = (typeof BACKGROUND_ERROR_KINDS)[number];

export interface BackgroundErrorState {
  readonly kind: BackgroundErrorKind;
  /** Errors of this kind since start. */
  readonly count: number;
  readonly message: string;
  /** The error's `code` when it is one of ours (a typed error), else its class name. */
  readonly code: string;
  /** Wall-clock ms of the last error. */
  readonly atMs: number;
  /** Wall-clock ms of the last success after it, null while still failing. */
  readonly resolvedAtMs: number | null;
}

/** An S3 error body or a stack-less message can be long; the status keeps its beginning. */
const MESSAGE_MAX = 500;

export function errorMessage(e: unknown): string {
  const m = e instanceof Error ? `${e.message}` : String(e);
  return m.length > MESSAGE_MAX ? `${m.slice(0, MESSAGE_MAX)}…` : m;
}

function errorCode(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? code : e.name;
  }
  return 'UNKNOWN';
}

export class BackgroundErrors {
  /** `tenant/timeline` → kind → state. */
  private readonly byTimeline = new Map<string, Map<BackgroundErrorKind, BackgroundErrorState>>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  private static key(tenantId: string, timelineId: string): string {
    return `${tenantId}/${timelineId}`;
  }

  record(tenantId: string, timelineId: string, kind: BackgroundErrorKind, error: unknown): void {
    const k = BackgroundErrors.key(tenantId, timelineId);
    let m = this.byTimeline.get(k);
    if (!m) this.byTimeline.set(k, (m = new Map()));
    const prev = m.get(kind);
    m.set(kind, { kind, count: (prev?.count ?? 0) + 1, message: errorMessage(error), code: errorCode(error), atMs: this.nowMs(), resolvedAtMs: null });
  }

  /** The work succeeded: an earlier error of this kind is history now, kept with the time it was resolved. */
  ok(tenantId: string, timelineId: string, kind: BackgroundErrorKind): void {
    const prev = this.byTimeline.get(BackgroundErrors.key(tenantId, timelineId))?.get(kind);
    if (prev && prev.resolvedAtMs === null) this.byTimeline.get(BackgroundErrors.key(tenantId, timelineId))?.set(kind, { ...prev, resolvedAtMs: this.nowMs() });
  }

  /** Every kind with an error so far, in the order of BACKGROUND_ERROR_KINDS. */
  forTimeline(tenantId: string, timelineId: string): BackgroundErrorState[] {
    const m = this.byTimeline.get(BackgroundErrors.key(tenantId, timelineId));
    if (!m) return [];
    return BACKGROUND_ERROR_KINDS.flatMap((kind) => {
      const s = m.get(kind);
      return s ? [s] : [];
    });
  }

  count(tenantId: string, timelineId: string, kind: BackgroundErrorKind): number {
    return this.byTimeline.get(BackgroundErrors.key(tenantId, timelineId))?.get(kind)?.count ?? 0;
  }

  /** The timeline is gone. */
  forget(tenantId: string, timelineId: string): void {
    this.byTimeline.delete(BackgroundErrors.key(tenantId, timelineId));
  }
}
