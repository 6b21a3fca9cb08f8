// A Timers port the test fires by hand: no real time passes, so nothing depends on machine load.
import type { Timers } from '../../../../../edge/dataplane/vici/retry.js'

export class FakeTimers implements Timers {
  private nextId = 1
  private readonly pending = new Map<number, { callback: () => void; ms: number }>()
  /** Every delay ever scheduled, in order. */
  readonly scheduled: number[] = []

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++
    this.pending.set(id, { callback, ms })
    this.scheduled.push(ms)
    return id
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number)
  }

  pendingDelays(): number[] {
    return [...this.pending.values()].map(p => p.ms)
  }

  /** Fires the oldest pending timer; returns its delay. */
  fireNext(): number {
    const first = this.pending.entries().next()
    if (first.done) throw new Error('no timer pending')
    const [id, { callback, ms }] = first.value
    this.pending.delete(id)
    callback()
    return ms
  }
}

/** Timers that fire on the next turn of the event loop whatever the delay, recording the delays asked for. */
export class ImmediateTimers implements Timers {
  readonly scheduled: number[] = []
  setTimeout(callback: () => void, ms: number): unknown {
    this.scheduled.push(ms)
    return setImmediate(callback)
  }
  clearTimeout(handle: unknown): void {
    clearImmediate(handle as ReturnType<typeof setImmediate>)
  }
}
