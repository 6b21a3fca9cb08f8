// Reconnect delays: capped exponential backoff with jitter, so a fleet of edges that lost the broker
// together does not come back in lock-step and knock it over again. Pure: the random source is passed in.

export interface BackoffSettings {
  /** Delay before the first retry, before jitter. */
  readonly initialMs: number
  /** Ceiling of the un-jittered delay. */
  readonly maxMs: number
  /** Share of the delay that is random, 0..1: 0.5 draws from [delay/2, delay]. */
  readonly jitter: number
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1000, maxMs: 60_000, jitter: 0.5 }

/**
 * The delay before retry number `attempt` (0 for the first retry after a loss). `random` returns a
 * number in [0, 1), like Math.random. Never below initialMs·(1 − jitter), never above maxMs.
 */
export function backoffDelayMs(attempt: number, settings: BackoffSettings, random: () => number): number {
  const exponent = Math.min(Math.max(0, attempt), 30)
  const ceiling = Math.min(settings.maxMs, settings.initialMs * 2 ** exponent)
  return Math.round(ceiling * (1 - settings.jitter * random()))
}
