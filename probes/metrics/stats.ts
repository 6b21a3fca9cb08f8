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
export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) throw new RangeError('percentile of no samples')
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`)
  const rank = Math.ceil((p / 100) * sortedAscending.length)
  return sortedAscending[Math.max(0, rank - 1)]!
}

export function summarizeRtt(samples: readonly number[]): RttSummary | null {
  if (samples.length === 0) return null
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    minMs: sorted[0]!,
    avgMs: sum / sorted.length,
    maxMs: sorted[sorted.length - 1]!,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
  }
}
