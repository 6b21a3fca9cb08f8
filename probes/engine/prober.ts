// The probing loop for every path, with its side effects injected (clock, probe I/O, timers), so it runs
// the same over the native I/O thread (native-io.ts) and in unit tests (a virtual network). One STAMP
// session and one socket (an I/O channel) per path. Packets are built here, ahead of time, and queued
// with the monotonic time each is due; the I/O thread sends them on time and stamps T1 and T4. Once per
// snapshot interval the prober drains what happened, matches replies, windows them, tops each path's
// queue up and reports: one wake-up of this thread per interval, whatever the probe rate.
import { computePathMetrics, type PathMetrics } from '../metrics/path-metrics.js'
import { ProbeWindow } from '../metrics/window.js'
import { SenderSession } from '../stamp/sender.js'
import type { ProbeClock } from '../clock.js'
import type { ProbeEvent } from './events.js'
import { sameSession, validateTargets, type ProbeTarget } from './target.js'

/** One thing the I/O thread did or saw, in the order it happened (per channel). */
export type IoRecord =
  | { readonly channel: number; readonly kind: 'sent'; readonly seq: number; readonly ns: bigint }
  | { readonly channel: number; readonly kind: 'send-error'; readonly seq: number; readonly ns: bigint; readonly error: string }
  | { readonly channel: number; readonly kind: 'reply'; readonly ns: bigint; readonly payload: Buffer }
  /** `count` datagrams from someone other than the reflector since the last drain; `from` sent the latest, at `ns`. */
  | { readonly channel: number; readonly kind: 'stray'; readonly ns: bigint; readonly from: string; readonly count: number }

/** The probe I/O thread, as the prober drives it. */
export interface ProbeIo {
  /**
   * Opens a UDP socket bound to `localAddress` (ephemeral port) for probing the reflector; returns its
   * channel. Throws, naming the step, if it cannot (bind: the address is not on this host). Only the
   * reflector's datagrams come back as replies; anyone else's are summed up in 'stray' records.
   */
  open(localAddress: string, remoteAddress: string, port: number): number
  /** Queues probe `seq` to leave at monotonic `dueNs` (T1 is read when it does); false if the channel is gone or full. */
  queue(channel: number, dueNs: bigint, seq: number, packet: Buffer): boolean
  /** Closes the channel's socket; its queued packets are dropped. */
  close(channel: number): void
  /** Everything since the last drain, oldest first; `dropped` counts records lost for want of room. */
  drain(): { readonly records: readonly IoRecord[]; readonly dropped: number }
}

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

export interface ProberDeps {
  readonly clock: ProbeClock
  readonly io: ProbeIo
  readonly timers: Timers
}

export interface ProberOptions {
  readonly windowSize: number
  readonly snapshotIntervalMs: number
  readonly onEvent: (event: ProbeEvent) => void
  /** Every path's snapshot, once per snapshotIntervalMs. */
  readonly onSnapshot: (metrics: PathMetrics[]) => void
  readonly onError: (pathId: string | null, error: Error) => void
}

const nsToMs = (ns: bigint): number => Number(ns) / 1e6
const msToNs = (ms: number): bigint => BigInt(Math.round(ms * 1e6))

/**
 * How far ahead each path's probes are queued: a few snapshot intervals, and at least a second, so that
 * probing goes on at its own pace while this thread is busy (a policy compile, a netlink dump).
 */
const queueAheadMs = (snapshotIntervalMs: number): number => Math.max(1000, 3 * snapshotIntervalMs)

class PathProber {
  readonly target: ProbeTarget
  readonly window: ProbeWindow
  readonly #session: SenderSession
  readonly #deps: ProberDeps
  readonly #emit: (event: ProbeEvent) => void
  readonly #aheadNs: bigint
  readonly #intervalNs: bigint
  #channel: number | null = null
  #nextDueNs = 0n
  #queued = 0

  constructor(target: ProbeTarget, windowSize: number, aheadMs: number, deps: ProberDeps, emit: (event: ProbeEvent) => void) {
    this.target = target
    this.window = new ProbeWindow(windowSize)
    this.#aheadNs = msToNs(aheadMs)
    this.#intervalNs = msToNs(target.intervalMs)
    // Remember enough probes to recognise a late reply up to timeoutMs plus one window later, and every
    // probe queued ahead but not yet sent.
    const remember = windowSize + Math.ceil((target.timeoutMs + aheadMs) / target.intervalMs) + 2
    this.#session = new SenderSession({ authKey: target.authKey, remember })
    this.#deps = deps
    this.#emit = emit
  }

  get channel(): number | null {
    return this.#channel
  }

  /** Opens the path's socket and queues its first probes, the first due now. Throws if the socket cannot be opened. */
  start(): void {
    this.#channel = this.#deps.io.open(this.target.localAddress, this.target.remoteAddress, this.target.port)
    this.#nextDueNs = this.#deps.clock.monotonicNs()
    this.refill(this.#nextDueNs)
  }

  stop(): void {
    if (this.#channel !== null) this.#deps.io.close(this.#channel)
    this.#channel = null
  }

  /** Queues probes up to `aheadMs` past `nowNs` (and no more than `count`). */
  refill(nowNs: bigint): void {
    const channel = this.#channel
    if (channel === null) return
    const { clock, io } = this.#deps
    // After a stall longer than the queue ahead, carry on from now rather than send the missed slots in a burst.
    if (this.#nextDueNs < nowNs - this.#intervalNs) this.#nextDueNs = nowNs
    while (this.#nextDueNs <= nowNs + this.#aheadNs && (this.target.count === undefined || this.#queued < this.target.count)) {
      // The packet carries the wall time it is due at; T1 itself is read by the I/O thread as it leaves.
      const { seq, packet } = this.#session.next(clock.ntpAt(this.#nextDueNs))
      if (!io.queue(channel, this.#nextDueNs, seq, packet)) return
      this.#queued++
      this.#nextDueNs += this.#intervalNs
    }
  }

  /** One record of this path's channel. */
  handle(record: IoRecord): void {
    const pathId = this.target.pathId
    const at = nsToMs(record.ns)
    if (record.kind === 'stray') {
      this.window.stray(record.from, at)
      const { remoteAddress, port } = this.target
      this.#emit({ pathId, kind: 'invalid', seq: null, at, detail: `${record.count} datagram(s) from ${record.from}, not the reflector ${remoteAddress}:${port}: ignored` })
      return
    }
    if (record.kind !== 'reply') {
      this.#session.departed(record.seq, record.ns)
      this.window.sent(record.seq, at)
      if (record.kind === 'send-error') this.#emit({ pathId, kind: 'send-error', seq: record.seq, at, detail: record.error })
      return
    }
    const match = this.#session.match(record.payload, record.ns)
    if (!match.ok) {
      this.#emit({ pathId, kind: 'invalid', seq: null, at, detail: `${match.reason}: ${match.detail}` })
      return
    }
    const kind = this.window.reply(match.seq, at, match.rttMs, this.target.timeoutMs)
    if (kind === 'unknown') {
      this.#emit({ pathId, kind: 'invalid', seq: match.seq, at, detail: 'reply to a probe no longer in the window' })
      return
    }
    this.#emit({ pathId, kind, seq: match.seq, at, rttMs: match.rttMs, bytes: record.payload.length })
  }

  /** Settles timed-out probes (emitting 'lost') and returns the snapshot at `now`. */
  metrics(now: number): PathMetrics {
    for (const seq of this.window.expire(now, this.target.timeoutMs)) {
      this.#emit({ pathId: this.target.pathId, kind: 'lost', seq, at: now })
    }
    return computePathMetrics(this.target.pathId, this.window, now, this.target.outageMisses)
  }
}

export class MultiPathProber {
  readonly #deps: ProberDeps
  readonly #options: ProberOptions
  readonly #aheadMs: number
  readonly #paths = new Map<string, PathProber>()
  readonly #byChannel = new Map<number, PathProber>()
  #snapshotTimer: unknown

  constructor(deps: ProberDeps, options: ProberOptions) {
    this.#deps = deps
    this.#options = options
    this.#aheadMs = queueAheadMs(options.snapshotIntervalMs)
    this.#snapshotTimer = deps.timers.setInterval(() => this.#publish(), options.snapshotIntervalMs)
  }

  /** Replaces the set of targets: new paths start, removed ones stop, changed ones restart. */
  async update(targets: readonly ProbeTarget[]): Promise<void> {
    validateTargets(targets)
    // What the old sessions sent and received until now belongs to them: settle it before they go.
    this.#drain()
    const wanted = new Map(targets.map(t => [t.pathId, t]))
    for (const [pathId, prober] of this.#paths) {
      const next = wanted.get(pathId)
      if (!next || !sameSession(prober.target, next)) this.#remove(pathId, prober)
    }
    for (const target of targets) {
      if (this.#paths.has(target.pathId)) continue
      const prober = new PathProber(target, this.#options.windowSize, this.#aheadMs, this.#deps, this.#options.onEvent)
      try {
        prober.start()
      } catch (err) {
        this.#options.onError(target.pathId, err instanceof Error ? err : new Error(String(err)))
        continue
      }
      this.#paths.set(target.pathId, prober)
      this.#byChannel.set(prober.channel!, prober)
    }
  }

  /** Every path's metrics now, after taking in what the I/O thread has done since the last call. */
  snapshot(): PathMetrics[] {
    this.#drain()
    const nowNs = this.#deps.clock.monotonicNs()
    for (const prober of this.#paths.values()) prober.refill(nowNs)
    const now = nsToMs(nowNs)
    return [...this.#paths.values()].map(p => p.metrics(now))
  }

  stop(): void {
    this.#deps.timers.clearInterval(this.#snapshotTimer)
    for (const [pathId, prober] of this.#paths) this.#remove(pathId, prober)
  }

  #remove(pathId: string, prober: PathProber): void {
    if (prober.channel !== null) this.#byChannel.delete(prober.channel)
    prober.stop()
    this.#paths.delete(pathId)
  }

  #drain(): void {
    const { records, dropped } = this.#deps.io.drain()
    for (const record of records) this.#byChannel.get(record.channel)?.handle(record)
    if (dropped > 0) {
      this.#options.onError(null, new Error(`probe I/O: ${dropped} send and reply records were dropped because nobody read them in time`))
    }
  }

  #publish(): void {
    if (this.#paths.size > 0) this.#options.onSnapshot(this.snapshot())
  }
}
