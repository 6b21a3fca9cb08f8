// The probing loop for every path, with its side effects injected (clock, sockets, timers), so it runs
// the same in the worker thread (real sockets) and in unit tests (fakes). One STAMP session and one
// socket per path; each path sends on its own interval; replies are matched, windowed and reported.
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
  #ticker: unknown = null
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

  async start(): Promise<void> {
    const socket = await this.#deps.openSocket(this.target.localAddress)
    if (this.#closed) {
      socket.close()
      return
    }
    this.#socket = socket
    socket.onMessage((payload, from) => this.#onReply(payload, from))
    this.#tick()
    this.#ticker = this.#deps.timers.setInterval(() => this.#tick(), this.target.intervalMs)
  }

  stop(): void {
    this.#closed = true
    if (this.#ticker !== null) this.#deps.timers.clearInterval(this.#ticker)
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

  #tick(): void {
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

export class MultiPathProber {
  readonly #deps: ProberDeps
  readonly #options: ProberOptions
  readonly #paths = new Map<string, PathProber>()
  #snapshotTimer: unknown

  constructor(deps: ProberDeps, options: ProberOptions) {
    this.#deps = deps
    this.#options = options
    this.#snapshotTimer = deps.timers.setInterval(() => this.#publish(), options.snapshotIntervalMs)
  }

  /** Replaces the set of targets: new paths start, removed ones stop, changed ones restart. */
  async update(targets: readonly ProbeTarget[]): Promise<void> {
    validateTargets(targets)
    const wanted = new Map(targets.map(t => [t.pathId, t]))
    for (const [pathId, prober] of this.#paths) {
      const next = wanted.get(pathId)
      if (!next || !sameSession(prober.target, next)) {
        prober.stop()
        this.#paths.delete(pathId)
      }
    }
    const starting: Promise<void>[] = []
    for (const target of targets) {
      if (this.#paths.has(target.pathId)) continue
      const prober = new PathProber(target, this.#options.windowSize, this.#deps, this.#options.onEvent)
      this.#paths.set(target.pathId, prober)
      starting.push(
        prober.start().catch((err: unknown) => {
          this.#paths.delete(target.pathId)
          this.#options.onError(target.pathId, err instanceof Error ? err : new Error(String(err)))
        }),
      )
    }
    await Promise.all(starting)
  }

  snapshot(): PathMetrics[] {
    const now = nsToMs(this.#deps.clock.monotonicNs())
    return [...this.#paths.values()].map(p => p.metrics(now))
  }

  stop(): void {
    this.#deps.timers.clearInterval(this.#snapshotTimer)
    for (const prober of this.#paths.values()) prober.stop()
    this.#paths.clear()
  }

  #publish(): void {
    if (this.#paths.size > 0) this.#options.onSnapshot(this.snapshot())
  }
}
