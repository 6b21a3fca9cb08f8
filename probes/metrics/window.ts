// The per-path sliding window of probes: what was sent, what came back, and how. Deterministic: every
// time is passed in (monotonic ms), nothing is read from a clock.
//
// Outcome of a probe (told apart, as issue 3 asks):
//   received   reply within timeoutMs;  reordered = it arrived after a reply to a later probe
//   lost       no reply within timeoutMs (decided by expire(); becomes 'late' if a reply turns up).
//              Before that, a pending probe that a later probe's reply has overtaken is presumed lost once
//              a reordering window has passed (as TCP RACK reasons, RFC 8985; path-metrics.ts): the loss
//              figures count it about a timeout sooner. If its own reply still comes in time, it was
//              reordered after all, and the wait it needed widens the reordering window.
//   late       a reply arrived, but after timeoutMs; counted as lost for the window's loss figure
//   duplicate  a further reply to an already answered probe; counted on that probe, never as a reply
// Sequence numbers are u32 and wrap; comparisons use serial-number arithmetic (RFC 1982 §3.2).

export type ProbeState = 'pending' | 'received' | 'lost' | 'late'

export interface ProbeRecord {
  readonly seq: number
  readonly sentAt: number
  state: ProbeState
  rttMs: number | null
  receivedAt: number | null
  reordered: boolean
  duplicates: number
  /** When a probe sent after this one was answered while this one was pending; null if that never happened. */
  overtakenAt: number | null
}

export type ReplyKind = 'reply' | 'late' | 'duplicate' | 'unknown'

/**
 * Transit-time changes |D| behind the recent jitter: the last this many, between successive on-time
 * replies in arrival order (RFC 3550 §6.4.1's D). Ten probes is one second at the default 100 ms.
 */
export const RECENT_JITTER_PAIRS = 10

/**
 * How far back the window keeps the outcomes of probes that have left it, for loss judged over a longer
 * span than the window (path-metrics.ts judgedLossPct): a loss SLA of about a percent needs hundreds of
 * probes to tell a link just inside it from one just outside.
 */
export const LOSS_HORIZON_MS = 60_000

/** a < b in u32 serial-number arithmetic. */
export function seqBefore(a: number, b: number): boolean {
  const d = (b - a) >>> 0
  return d !== 0 && d < 0x8000_0000
}

export class ProbeWindow {
  readonly capacity: number
  readonly #records = new Map<number, ProbeRecord>()
  /** The records in send order; the oldest leaves when the window is full. */
  readonly #order: ProbeRecord[] = []
  #highestArrived: number | null = null
  #lastOnTimeRtt: number | null = null
  #jitterMs = 0
  /** The last RECENT_JITTER_PAIRS values of |D|, a ring; #recentNext is where the next one goes. */
  readonly #recentAbsD: number[] = []
  #recentNext = 0
  #lastReplyAt: number | null = null
  #lastStray: { readonly from: string; readonly at: number } | null = null
  #firstSentAt: number | null = null
  #lastSentAt: number | null = null
  #totalSent = 0
  #totalReceived = 0
  /** Settled probes that left the window within horizonMs of the newest sent, oldest first from #pastHead. */
  readonly #pastSentAt: number[] = []
  readonly #pastLost: boolean[] = []
  #pastHead = 0

  constructor(
    capacity: number,
    readonly horizonMs = LOSS_HORIZON_MS,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`window capacity ${capacity} is not a positive integer`)
    this.capacity = capacity
  }

  sent(seq: number, atMs: number): void {
    const reused = this.#records.get(seq)
    if (reused) this.#forget(reused)
    const record: ProbeRecord = { seq, sentAt: atMs, state: 'pending', rttMs: null, receivedAt: null, reordered: false, duplicates: 0, overtakenAt: null }
    this.#records.set(seq, record)
    this.#order.push(record)
    while (this.#order.length > this.capacity) this.#retire(this.#order[0]!)
    this.#trimPast(atMs)
    this.#firstSentAt ??= atMs
    this.#lastSentAt = atMs
    this.#totalSent++
  }

  /** Records a reply to `seq` that arrived at `atMs` with round-trip time `rttMs`. */
  reply(seq: number, atMs: number, rttMs: number, timeoutMs: number): ReplyKind {
    const record = this.#records.get(seq)
    if (!record) return 'unknown'
    if (record.state === 'received' || record.state === 'late') {
      record.duplicates++
      return 'duplicate'
    }
    record.rttMs = rttMs
    record.receivedAt = atMs
    if (record.state === 'lost' || rttMs > timeoutMs) {
      record.state = 'late'
      return 'late'
    }
    record.state = 'received'
    this.#totalReceived++
    for (const earlier of this.#order) {
      if (earlier === record) break
      if (earlier.state === 'pending') earlier.overtakenAt ??= atMs
    }
    if (this.#highestArrived !== null && seqBefore(seq, this.#highestArrived)) record.reordered = true
    else this.#highestArrived = seq
    // RFC 3550 §6.4.1 interarrival jitter, with RTT as the transit time: J += (|D| - J) / 16, D being the
    // change in transit time from the previous packet in arrival order.
    if (this.#lastOnTimeRtt !== null) {
      const absD = Math.abs(rttMs - this.#lastOnTimeRtt)
      this.#jitterMs += (absD - this.#jitterMs) / 16
      this.#recentAbsD[this.#recentNext] = absD
      this.#recentNext = (this.#recentNext + 1) % RECENT_JITTER_PAIRS
    }
    this.#lastOnTimeRtt = rttMs
    this.#lastReplyAt = this.#lastReplyAt === null ? atMs : Math.max(this.#lastReplyAt, atMs)
    return 'reply'
  }

  /** A datagram from `from`, someone other than the reflector, reached the probe port at `atMs`. */
  stray(from: string, atMs: number): void {
    this.#lastStray = { from, at: atMs }
  }

  /** Marks pending probes older than timeoutMs as lost; returns their sequence numbers. */
  expire(nowMs: number, timeoutMs: number): number[] {
    const lost: number[] = []
    for (const record of this.#order) {
      if (record.state === 'pending' && nowMs - record.sentAt > timeoutMs) {
        record.state = 'lost'
        lost.push(record.seq)
      }
    }
    return lost
  }

  /**
   * Records oldest first (send order): the window's own array, not a copy (a snapshot reads it 20 times
   * a second per path), so it changes as probes are sent and answered.
   */
  records(): readonly ProbeRecord[] {
    return this.#order
  }

  /**
   * The outcomes (true: lost or late) of the settled probes that left the window and were sent within
   * horizonMs of the newest probe, oldest first. Probes still pending when they left are not among them,
   * unless overtaken (then lost).
   */
  forEachPastOutcome(visit: (lost: boolean) => void): void {
    for (let i = this.#pastHead; i < this.#pastLost.length; i++) visit(this.#pastLost[i]!)
  }

  get jitterMs(): number {
    return this.#jitterMs
  }
  /**
   * Mean |D| over the last RECENT_JITTER_PAIRS reply pairs (fewer before there are that many; 0 with
   * none): the quantity RFC 3550's J estimates, but over a fixed recent span. J's gain of 1/16 needs
   * ~14 samples to cross 60 % of a step; this mean crosses it after 6 and holds the whole step after 10.
   */
  get recentJitterMs(): number {
    const n = this.#recentAbsD.length
    return n === 0 ? 0 : this.#recentAbsD.reduce((a, b) => a + b, 0) / n
  }
  get lastReplyAt(): number | null {
    return this.#lastReplyAt
  }
  get lastStray(): { readonly from: string; readonly at: number } | null {
    return this.#lastStray
  }
  get firstSentAt(): number | null {
    return this.#firstSentAt
  }
  get lastSentAt(): number | null {
    return this.#lastSentAt
  }
  get totalSent(): number {
    return this.#totalSent
  }
  get totalReceived(): number {
    return this.#totalReceived
  }

  /** The oldest probe leaves the window; its outcome stays for the loss horizon once it is settled. */
  #retire(record: ProbeRecord): void {
    if (record.state !== 'pending' || record.overtakenAt !== null) {
      this.#pastSentAt.push(record.sentAt)
      this.#pastLost.push(record.state !== 'received')
    }
    this.#forget(record)
  }

  #trimPast(newestSentAt: number): void {
    while (this.#pastHead < this.#pastSentAt.length && this.#pastSentAt[this.#pastHead]! < newestSentAt - this.horizonMs) this.#pastHead++
    // Compact once the dead prefix is the larger part, so the arrays stay within about twice the horizon.
    if (this.#pastHead > 64 && this.#pastHead * 2 > this.#pastSentAt.length) {
      this.#pastSentAt.splice(0, this.#pastHead)
      this.#pastLost.splice(0, this.#pastHead)
      this.#pastHead = 0
    }
  }

  #forget(record: ProbeRecord): void {
    this.#records.delete(record.seq)
    const i = this.#order.indexOf(record)
    if (i >= 0) this.#order.splice(i, 1)
  }
}
