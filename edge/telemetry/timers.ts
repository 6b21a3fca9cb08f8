// Wall clock and one-shot timers, injected so tests can drive time and the core never reads a global.

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface WallClock {
  /** Milliseconds since the epoch. */
  now(): number
}

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: handle => clearTimeout(handle as NodeJS.Timeout),
}

export const systemClock: WallClock = { now: () => Date.now() }
