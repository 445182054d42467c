/** Alert rules that need no I/O, beside the cluster view that gathers their inputs. */

export interface Alert {
  readonly severity: 'critical' | 'warning';
  readonly message: string;
}

/** Local layers above this share of the page server's disk budget: eviction cannot keep up (or remote storage is unreachable). */
export const DISK_BUDGET_ALERT_RATIO = 0.9;

/** The page server's local tier against its disk budget (no budget, no alert). */
export function diskBudgetAlert(status: { readonly diskBudgetBytes?: number | null | undefined; readonly localLayerBytes?: number | undefined }): Alert | undefined {
  const budget = status.diskBudgetBytes ?? 0;
  const used = status.localLayerBytes ?? 0;
  if (budget <= 0 || used <= budget * DISK_BUDGET_ALERT_RATIO) return undefined;
  const pct = Math.round((100 * used) / budget);
  return { severity: pct >= 100 ? 'critical' : 'warning', message: `page server disk is ${pct}% of its budget (${used} of ${budget} bytes of layers held locally)` };
}
