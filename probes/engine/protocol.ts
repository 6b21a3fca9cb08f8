// Messages between the ProbeEngine handle (main thread) and the probe worker. Structured-clone safe:
// Buffers arrive on the other side as Uint8Array, so keys travel as Uint8Array and are rewrapped.
import type { PathMetrics } from '../metrics/path-metrics.js'
import type { ProbeTarget } from './target.js'

export type ProbeEventKind = 'reply' | 'lost' | 'late' | 'duplicate' | 'send-error' | 'invalid'

/** One thing that happened to one probe (or one stray datagram, kind 'invalid'). */
export interface ProbeEvent {
  readonly pathId: string
  readonly kind: ProbeEventKind
  /** The probe's sequence number; null for an 'invalid' datagram that could not be matched. */
  readonly seq: number | null
  /** Monotonic ms (probes/clock.ts) when it was observed. */
  readonly at: number
  /** For 'reply', 'late' and 'duplicate'. */
  readonly rttMs?: number
  /** Reply size in octets, for ping-like output. */
  readonly bytes?: number
  /** Why, for 'send-error' and 'invalid'. */
  readonly detail?: string
}

export interface WireTarget extends Omit<ProbeTarget, 'authKey'> {
  readonly authKey?: Uint8Array
}

export interface WorkerInit {
  readonly windowSize: number
  readonly snapshotIntervalMs: number
  /** Post a 'probe' message per probe event; off when nobody on the main thread listens (the daemon). */
  readonly probeEvents: boolean
  /** Nice value for the probe thread (−20..19), or null to leave it alone. */
  readonly niceness: number | null
}

export type ToWorker = { readonly type: 'update'; readonly targets: readonly WireTarget[] } | { readonly type: 'stop' }

export type FromWorker =
  | { readonly type: 'probe'; readonly event: ProbeEvent }
  // Every path's snapshot in one message: one structured clone and one wake-up of the main thread per
  // snapshot interval, not one per path.
  | { readonly type: 'metrics'; readonly metrics: readonly PathMetrics[] }
  | { readonly type: 'error'; readonly pathId: string | null; readonly message: string }
  | { readonly type: 'stopped' }

export function toWire(t: ProbeTarget): WireTarget {
  const { authKey, ...rest } = t
  return authKey === undefined ? rest : { ...rest, authKey: new Uint8Array(authKey) }
}

export function fromWire(t: WireTarget): ProbeTarget {
  const { authKey, ...rest } = t
  return authKey === undefined ? rest : { ...rest, authKey: Buffer.from(authKey) }
}
