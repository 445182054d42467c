/**
 * A tiny Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4). Collectors run at
 * scrape time for values that live elsewhere (per-timeline LSNs).
 */

export type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`)
    .join(',');
}

function fmt(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function series(name: string, key: string, value: number | bigint): string {
  return `${name}${key ? `{${key}}` : ''} ${fmt(value)}`;
}

export interface Metric {
  readonly name: string;
  render(): string[];
}

export class Counter implements Metric {
  private readonly values = new Map<string, bigint>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by: number | bigint = 1): void {
    const b = BigInt(by);
    if (b < 0n) throw new RangeError('counters only go up');
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0n) + b);
  }
  get(labels: Labels = {}): bigint {
    return this.values.get(labelKey(labels)) ?? 0n;
  }
  /** Sum over every label set. */
  total(): bigint {
    let n = 0n;
    for (const v of this.values.values()) n += v;
    return n;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) out.push(series(this.name, k, v));
    return out;
  }
}

/** A gauge set by the code that owns the value. */
export class Gauge implements Metric {
  private readonly values = new Map<string, number | bigint>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  set(value: number | bigint, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  get(labels: Labels = {}): number | bigint | undefined {
    return this.values.get(labelKey(labels));
  }
  /** Drop one series (a deleted timeline). */
  remove(labels: Labels = {}): void {
    this.values.delete(labelKey(labels));
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [k, v] of this.values) out.push(series(this.name, k, v));
    return out;
  }
}

/** A gauge whose series are produced at scrape time by a collector. */
export class CollectedGauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () => Iterable<[Labels, number | bigint]>,
  ) {}
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [labels, v] of this.collect()) out.push(series(this.name, labelKey(labels), v));
    return out;
  }
}

export class Histogram implements Metric {
  private readonly data = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new RangeError('histogram buckets must ascend');
    }
  }
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let d = this.data.get(k);
    if (!d) {
      d = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.data.set(k, d);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) d.counts[i]!++;
    d.sum += value;
    d.count++;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, d] of this.data) {
      const sep = k ? ',' : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${k}${sep}le="${fmt(b)}"} ${d.counts[i]}`));
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${d.count}`);
      out.push(series(`${this.name}_sum`, k, d.sum));
      out.push(series(`${this.name}_count`, k, d.count));
    }
    return out;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.flatMap((m) => m.render()).join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** fsync latency buckets, seconds: 50 µs to 2.5 s. */
export const FSYNC_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
