// Capped exponential backoff and the timer port it waits on. Pure arithmetic plus an injected scheduler,
// so tests drive retries without real time.

export interface BackoffPolicy {
  readonly initialMs: number
  readonly maxMs: number
  /** Growth per attempt; 2 doubles. */
  readonly factor?: number
}

/** Delay before retry number `attempt` (0-based): initialMs · factor^attempt, never above maxMs. */
export function cappedBackoffMs(attempt: number, policy: BackoffPolicy): number {
  const factor = policy.factor ?? 2
  const delay = policy.initialMs * Math.pow(factor, Math.max(0, attempt))
  return Math.min(policy.maxMs, Number.isFinite(delay) ? delay : policy.maxMs)
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** A sleep that `cancel()` ends early (resolving, not rejecting), so a stop() does not wait out a backoff. */
export function cancellableSleep(timers: Timers, ms: number): { done: Promise<void>; cancel: () => void } {
  let finish!: () => void
  const done = new Promise<void>(resolve => (finish = resolve))
  const handle = timers.setTimeout(finish, ms)
  return {
    done,
    cancel: () => {
      timers.clearTimeout(handle)
      finish()
    },
  }
}
