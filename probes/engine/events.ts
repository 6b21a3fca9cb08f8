// What the probe engine reports per probe, for the one-shot `probe` command and the tests; the daemon
// steers on snapshots alone and asks for none of these.

export type ProbeEventKind = 'reply' | 'lost' | 'late' | 'duplicate' | 'send-error' | 'invalid'

/** One thing that happened to one probe (or one datagram that matched no probe, kind 'invalid'). */
export interface ProbeEvent {
  readonly pathId: string
  readonly kind: ProbeEventKind
  /** The probe's sequence number; null for an 'invalid' datagram that could not be matched. */
  readonly seq: number | null
  /** Monotonic ms (probes/clock.ts) when it happened: T1 for a send error, T4 for replies. */
  readonly at: number
  /** For 'reply', 'late' and 'duplicate'. */
  readonly rttMs?: number
  /** Reply size in octets, for ping-like output. */
  readonly bytes?: number
  /** Why, for 'send-error' and 'invalid'. */
  readonly detail?: string
}
