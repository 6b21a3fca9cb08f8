// The probing loop for every path, with its side effects injected (clock, sockets, timers), so it runs
// the same in the worker thread (real sockets) and in unit tests (fakes). One STAMP session and one
// socket per path; replies are matched, windowed and reported.
//
// Paths with the same interval share one timer (an IntervalGroup): every tick sends each of their probes
// back to back, each with its own T1 read right before its send. A timer per path woke the worker thread
// once per probe — with 5 paths at 20/s, 100 wake-ups a second, each costing more than the probe itself
// on this box (the worker's JS was ~0.6 % of a core, the thread ~2.4 %). A path joining a running group
// sends its first probe at once and then on the group's ticks, so only its first gap is shorter than
// its interval. The snapshot timer starts together with the first group, so in the common case (the
// snapshot interval is the probe interval) snapshots ride the same wake-up as the sends.
import { computePathMetrics, type PathMetrics } from '../metrics/path-metrics.js'
import { ProbeWindow } from '../metrics/window.js'
import { SenderSession } from '../stamp/sender.js'
import type { ProbeClock } from '../clock.js'
import type { ProbeEvent } from './protocol.js'
import { sameSession, validateTargets, type ProbeTarget } from './target.js'

export interface ProbeSocket {
  send(packet: Buffer, port: number, address: string, done: (err: Error | null) => void): void
  onMessage(handler: (payload: Buffer, from: { address: string; port: number }) => void): void
  close(): void
}

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

export interface ProberDeps {
  readonly clock: ProbeClock
  /** Opens a UDP socket bound to `localAddress` (ephemeral port). */
  readonly openSocket: (localAddress: string) => Promise<ProbeSocket>
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

class PathProber {
  readonly target: ProbeTarget
  readonly window: ProbeWindow
  readonly #session: SenderSession
  readonly #deps: ProberDeps
  readonly #emit: (event: ProbeEvent) => void
  #socket: ProbeSocket | null = null
  #closed = false

  constructor(target: ProbeTarget, windowSize: number, deps: ProberDeps, emit: (event: ProbeEvent) => void) {
    this.target = target
    this.window = new ProbeWindow(windowSize)
    // Remember enough probes to recognise a late reply up to timeoutMs plus one window later.
    const remember = windowSize + Math.ceil(target.timeoutMs / target.intervalMs) + 1
    this.#session = new SenderSession({ authKey: target.authKey, remember })
    this.#deps = deps
    this.#emit = emit
  }

  /** Opens the socket and sends the first probe; false when stopped meanwhile (nothing to schedule). */
  async start(): Promise<boolean> {
    const socket = await this.#deps.openSocket(this.target.localAddress)
    if (this.#closed) {
      socket.close()
      return false
    }
    this.#socket = socket
    socket.onMessage((payload, from) => this.#onReply(payload, from))
    this.tick()
    return true
  }

  stop(): void {
    this.#closed = true
    this.#socket?.close()
    this.#socket = null
  }

  /** Settles timed-out probes (emitting 'lost') and returns the snapshot at `now`. */
  metrics(now: number): PathMetrics {
    this.#expire(now)
    return computePathMetrics(this.target.pathId, this.window, now, this.target.outageMisses)
  }

  #expire(now: number): void {
    for (const seq of this.window.expire(now, this.target.timeoutMs)) {
      this.#emit({ pathId: this.target.pathId, kind: 'lost', seq, at: now })
    }
  }

  /** Settles timed-out probes and sends the next one (unless the path's count is reached). */
  tick(): void {
    const socket = this.#socket
    if (!socket) return
    const { clock } = this.#deps
    this.#expire(nsToMs(clock.monotonicNs()))
    if (this.target.count !== undefined && this.window.totalSent >= this.target.count) return
    const { seq, packet } = this.#session.next(clock.ntpNow())
    // T1 is read as late as possible: after the packet is built, right before the send call.
    const monoNs = clock.monotonicNs()
    this.#session.departed(seq, monoNs)
    this.window.sent(seq, nsToMs(monoNs))
    socket.send(packet, this.target.port, this.target.remoteAddress, err => {
      if (err) {
        this.#emit({ pathId: this.target.pathId, kind: 'send-error', seq, at: nsToMs(clock.monotonicNs()), detail: err.message })
      }
    })
  }

  #onReply(payload: Buffer, from: { address: string; port: number }): void {
    // T4 first, before any work.
    const monoNs = this.#deps.clock.monotonicNs()
    const at = nsToMs(monoNs)
    const pathId = this.target.pathId
    if (from.address !== this.target.remoteAddress || from.port !== this.target.port) {
      this.#emit({ pathId, kind: 'invalid', seq: null, at, detail: `datagram from ${from.address}:${from.port}, not the reflector` })
      return
    }
    const match = this.#session.match(payload, monoNs)
    if (!match.ok) {
      this.#emit({ pathId, kind: 'invalid', seq: null, at, detail: `${match.reason}: ${match.detail}` })
      return
    }
    const kind = this.window.reply(match.seq, at, match.rttMs, this.target.timeoutMs)
    if (kind === 'unknown') {
      this.#emit({ pathId, kind: 'invalid', seq: match.seq, at, detail: 'reply to a probe no longer in the window' })
      return
    }
    this.#emit({ pathId, kind, seq: match.seq, at, rttMs: match.rttMs, bytes: payload.length })
  }
}

/** The paths probed at one interval, and the one timer that sends all their probes. */
interface IntervalGroup {
  readonly paths: Set<PathProber>
  readonly timer: unknown
}

export class MultiPathProber {
  readonly #deps: ProberDeps
  readonly #options: ProberOptions
  readonly #paths = new Map<string, PathProber>()
  readonly #groups = new Map<number, IntervalGroup>()
  #snapshotTimer: unknown = null

  constructor(deps: ProberDeps, options: ProberOptions) {
    this.#deps = deps
    this.#options = options
  }

  /** Replaces the set of targets: new paths start, removed ones stop, changed ones restart. */
  async update(targets: readonly ProbeTarget[]): Promise<void> {
    validateTargets(targets)
    const wanted = new Map(targets.map(t => [t.pathId, t]))
    for (const [pathId, prober] of this.#paths) {
      const next = wanted.get(pathId)
      if (!next || !sameSession(prober.target, next)) {
        this.#remove(pathId, prober)
      }
    }
    const starting: Promise<void>[] = []
    for (const target of targets) {
      if (this.#paths.has(target.pathId)) continue
      const prober = new PathProber(target, this.#options.windowSize, this.#deps, this.#options.onEvent)
      this.#paths.set(target.pathId, prober)
      starting.push(
        prober.start().then(
          started => {
            if (started) this.#join(prober)
          },
          (err: unknown) => {
            this.#paths.delete(target.pathId)
            this.#options.onError(target.pathId, err instanceof Error ? err : new Error(String(err)))
          },
        ),
      )
    }
    await Promise.all(starting)
  }

  snapshot(): PathMetrics[] {
    const now = nsToMs(this.#deps.clock.monotonicNs())
    return [...this.#paths.values()].map(p => p.metrics(now))
  }

  stop(): void {
    for (const [pathId, prober] of this.#paths) this.#remove(pathId, prober)
  }

  #join(prober: PathProber): void {
    const intervalMs = prober.target.intervalMs
    const group = this.#groups.get(intervalMs)
    if (group) {
      group.paths.add(prober)
      return
    }
    const { timers } = this.#deps
    // Started in the same turn as the group's timer, so both fire on the same wake-up (see the top).
    if (this.#groups.size === 0) this.#snapshotTimer = timers.setInterval(() => this.#publish(), this.#options.snapshotIntervalMs)
    const paths = new Set([prober])
    this.#groups.set(intervalMs, {
      paths,
      timer: timers.setInterval(() => {
        for (const p of paths) p.tick()
      }, intervalMs),
    })
  }

  #remove(pathId: string, prober: PathProber): void {
    prober.stop()
    this.#paths.delete(pathId)
    const intervalMs = prober.target.intervalMs
    const group = this.#groups.get(intervalMs)
    if (!group?.paths.delete(prober) || group.paths.size > 0) return
    this.#deps.timers.clearInterval(group.timer)
    this.#groups.delete(intervalMs)
    if (this.#groups.size === 0) {
      this.#deps.timers.clearInterval(this.#snapshotTimer)
      this.#snapshotTimer = null
    }
  }

  #publish(): void {
    if (this.#paths.size > 0) this.#options.onSnapshot(this.snapshot())
  }
}
