// Order statistics for RTT samples. Percentiles use the nearest-rank method (the smallest sample with at
// least p% of samples ≤ it), which never invents a value that was not measured.

export interface RttSummary {
  readonly minMs: number
  readonly avgMs: number
  readonly maxMs: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
}

/** Nearest-rank percentile of an ascending array; p in (0, 100]. */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  if (sortedAscending.length === 0) throw new RangeError('percentile of no samples')
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`)
  const rank = Math.ceil((p / 100) * sortedAscending.length)
  return sortedAscending[Math.max(0, rank - 1)]!
}

/**
 * Sorts a Float64Array copy: a typed array sorts numerically in native code, where an array sorted with a
 * comparator boxes every comparison's result: 8 KB of garbage for a window of 100 (V8's sampling heap
 * profiler, on the daemon's 20 snapshots a second per path).
 */
export function summarizeRtt(samples: ArrayLike<number>): RttSummary | null {
  if (samples.length === 0) return null
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    minMs: sorted[0]!,
    avgMs: sum / sorted.length,
    maxMs: sorted[sorted.length - 1]!,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
  }
}

/**
 * The Wilson score interval's lower bound for a proportion, in percent: with `k` of `n` trials lost, the
 * true loss is at least this with the one-sided confidence `z` stands for (1.645: 95 %, 2.326: 99 %,
 * 3.09: 99.9 %). Unlike the normal approximation it stays within [0, 100] and is sound for the few losses
 * a loss SLA of a percent or so is judged on. 0 with no trials.
 */
export function wilsonLowerPct(k: number, n: number, z: number): number {
  if (n <= 0 || k <= 0) return 0
  const p = k / n
  const z2n = (z * z) / n
  const centre = p + z2n / 2
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n))
  return Math.max(0, ((centre - spread) / (1 + z2n)) * 100)
}
