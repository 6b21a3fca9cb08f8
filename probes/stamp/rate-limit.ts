// Per-source token buckets for the reflector: a reflector is a UDP service that answers anyone, so one
// source (or a spoofed victim address) must not be able to make it send more than `ratePerSecond`
// replies. Pure: the caller passes `nowMs`. The table is bounded; when full, the least recently seen
// source is forgotten (Map iteration order is insertion order, and we re-insert on every use), so a
// flood of spoofed sources costs memory O(maxSources), not O(sources).

export interface RateLimit {
  readonly ratePerSecond: number
  readonly burst: number
  readonly maxSources: number
}

export const DEFAULT_RATE_LIMIT: RateLimit = { ratePerSecond: 200, burst: 400, maxSources: 65_536 }

interface Bucket {
  tokens: number
  updatedMs: number
}

export class SourceRateLimiter {
  readonly #limit: RateLimit
  readonly #buckets = new Map<string, Bucket>()

  constructor(limit: RateLimit = DEFAULT_RATE_LIMIT) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1) || !(limit.maxSources >= 1)) {
      throw new RangeError(`rate limit needs ratePerSecond > 0, burst ≥ 1, maxSources ≥ 1 (got ${JSON.stringify(limit)})`)
    }
    this.#limit = limit
  }

  /** Takes one token for `source` if it has one. */
  allow(source: string, nowMs: number): boolean {
    let bucket = this.#buckets.get(source)
    if (bucket) {
      this.#buckets.delete(source)
      const elapsed = Math.max(0, nowMs - bucket.updatedMs)
      bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + (elapsed * this.#limit.ratePerSecond) / 1000)
      bucket.updatedMs = nowMs
    } else {
      if (this.#buckets.size >= this.#limit.maxSources) {
        const oldest = this.#buckets.keys().next().value
        if (oldest !== undefined) this.#buckets.delete(oldest)
      }
      bucket = { tokens: this.#limit.burst, updatedMs: nowMs }
    }
    this.#buckets.set(source, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  get trackedSources(): number {
    return this.#buckets.size
  }
}
