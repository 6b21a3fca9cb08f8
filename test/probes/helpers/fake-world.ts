// A deterministic stand-in for time and the network, for the prober and engine tests: a virtual clock,
// timers that fire only when the test advances time, and a probe I/O thread whose per-source-address
// links lead to an in-memory STAMP reflector (the real pure `reflect`) with configurable delay, loss,
// duplication and outage.
import type { ProbeClock } from '../../../probes/clock.js'
import type { IoRecord, ProberDeps, ProbeIo, Timers } from '../../../probes/engine/prober.js'
import { reflect } from '../../../probes/stamp/reflector.js'
import { SourceRateLimiter } from '../../../probes/stamp/rate-limit.js'
import { unixNsToNtp } from '../../../probes/stamp/timestamp.js'

export interface LinkBehaviour {
  /** One-way delay each way, ms; may depend on the probe's order of sending on this link. */
  delayMs: number | ((nth: number) => number)
  /** Drop the nth datagram sent on this link (request and its reply together). */
  drop?: (nth: number) => boolean
  /** Deliver each reply twice. */
  duplicate?: boolean
  /** The link is down: sends fail as the kernel would fail them. */
  down?: boolean
  /** The reflector's key (authenticated mode). */
  reflectorKey?: Buffer
  /**
   * The reflector answers from this address ("address:port") instead of the one probed, as one bound
   * to 0.0.0.0 on a multi-homed host may: the I/O thread reports its replies as strays.
   */
  answersFrom?: string
}

interface Scheduled {
  at: bigint
  order: number
  fn: () => void
}

const MS = 1_000_000n

export class FakeWorld {
  nowNs = 1_000_000_000n
  readonly links = new Map<string, LinkBehaviour>()
  readonly sent = new Map<string, number>()
  #queue: Scheduled[] = []
  #order = 0
  #limiter = new SourceRateLimiter({ ratePerSecond: 1e9, burst: 1e9, maxSources: 64 })

  readonly clock: ProbeClock = {
    monotonicNs: () => this.nowNs,
    ntpNow: () => unixNsToNtp(1_700_000_000_000_000_000n + this.nowNs),
    ntpAt: monoNs => unixNsToNtp(1_700_000_000_000_000_000n + monoNs),
  }

  readonly timers: Timers = {
    setInterval: (fn, ms) => {
      const handle = { cancelled: false }
      const tick = (): void => {
        if (handle.cancelled) return
        fn()
        this.schedule(ms, tick)
      }
      this.schedule(ms, tick)
      return handle
    },
    clearInterval: handle => {
      ;(handle as { cancelled: boolean }).cancelled = true
    },
  }

  get nowMs(): number {
    return Number(this.nowNs) / 1e6
  }

  schedule(delayMs: number, fn: () => void): void {
    this.#queue.push({ at: this.nowNs + BigInt(Math.round(delayMs * 1e6)), order: this.#order++, fn })
    this.#queue.sort((a, b) => (a.at === b.at ? a.order - b.order : a.at < b.at ? -1 : 1))
  }

  /** Runs everything due in the next `ms`, in time order, moving the clock to each event. */
  advance(ms: number): void {
    const end = this.nowNs + BigInt(Math.round(ms)) * MS
    while (this.#queue.length > 0 && this.#queue[0]!.at <= end) {
      const next = this.#queue.shift()!
      this.nowNs = next.at
      next.fn()
    }
    this.nowNs = end
  }

  deps(): ProberDeps {
    return { clock: this.clock, timers: this.timers, io: this.io }
  }

  /**
   * The probe I/O thread over the virtual network: a queued packet leaves at its due time (a 'sent'
   * record, or 'send-error' when its link is down) and its reply arrives as a 'reply' record (a 'stray'
   * one when the reflector answers from elsewhere), all stamped with the virtual clock.
   */
  readonly io: ProbeIo = {
    open: (localAddress, remoteAddress, port) => {
      const channel = this.#nextChannel++
      this.#channels.set(channel, { localAddress, remoteAddress, port })
      return channel
    },
    queue: (channel, dueNs, seq, packet) => {
      if (!this.#channels.has(channel)) return false
      const request = Buffer.from(packet)
      this.schedule(Number(dueNs - this.nowNs) / 1e6, () => this.#send(channel, seq, request))
      return true
    },
    close: channel => {
      this.#channels.delete(channel)
    },
    drain: () => {
      const records = this.#records
      this.#records = []
      return { records, dropped: 0 }
    },
  }

  #nextChannel = 1
  readonly #channels = new Map<number, { localAddress: string; remoteAddress: string; port: number }>()
  #records: IoRecord[] = []

  #send(channel: number, seq: number, request: Buffer): void {
    const socket = this.#channels.get(channel)
    if (!socket) return
    const link = this.links.get(socket.localAddress)
    if (!link || link.down) {
      this.#records.push({ channel, kind: 'send-error', seq, ns: this.nowNs, error: 'send: Network is unreachable' })
      return
    }
    this.#records.push({ channel, kind: 'sent', seq, ns: this.nowNs })
    const nth = this.sent.get(socket.localAddress) ?? 0
    this.sent.set(socket.localAddress, nth + 1)
    if (link.drop?.(nth)) return
    const delay = typeof link.delayMs === 'function' ? link.delayMs(nth) : link.delayMs
    const deliver = (payload: Buffer): void => {
      if (!this.#channels.has(channel)) return
      if (link.answersFrom === undefined) this.#records.push({ channel, kind: 'reply', ns: this.nowNs, payload })
      else this.#records.push({ channel, kind: 'stray', ns: this.nowNs, from: link.answersFrom, count: 1 })
    }
    this.schedule(delay, () => {
      const t2 = this.clock.ntpNow()
      const out = reflect(
        { payload: request, source: socket.localAddress, receivedAt: t2, nowMs: this.nowMs },
        { senderTtl: 64, authKey: link.reflectorKey },
        this.#limiter,
        this.clock.ntpNow,
      )
      if (out.kind !== 'reply') return
      this.schedule(delay, () => deliver(out.reply))
      if (link.duplicate) this.schedule(delay + 1, () => deliver(out.reply))
    })
  }
}
