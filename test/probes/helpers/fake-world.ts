// A deterministic stand-in for time and the network, for the prober and engine tests: a virtual clock,
// timers that fire only when the test advances time, and per-source-address links to an in-memory STAMP
// reflector (the real pure `reflect`) with configurable delay, loss, duplication and outage.
import type { ProbeClock } from '../../../probes/clock.js'
import type { ProbeSocket, ProberDeps, Timers } from '../../../probes/engine/prober.js'
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
    return { clock: this.clock, timers: this.timers, openSocket: async local => this.#socket(local) }
  }

  #socket(localAddress: string): ProbeSocket {
    let handler: (payload: Buffer, from: { address: string; port: number }) => void = () => undefined
    let closed = false
    const deliver = (payload: Buffer, from: { address: string; port: number }): void => {
      if (!closed) handler(payload, from)
    }
    return {
      send: (packet, port, address, done) => {
        const link = this.links.get(localAddress)
        if (!link || link.down) {
          done(new Error('send ENETUNREACH'))
          return
        }
        done(null)
        const nth = this.sent.get(localAddress) ?? 0
        this.sent.set(localAddress, nth + 1)
        if (link.drop?.(nth)) return
        const delay = typeof link.delayMs === 'function' ? link.delayMs(nth) : link.delayMs
        const request = Buffer.from(packet)
        this.schedule(delay, () => {
          const t2 = this.clock.ntpNow()
          const out = reflect(
            { payload: request, source: localAddress, receivedAt: t2, nowMs: this.nowMs },
            { senderTtl: 64, authKey: link.reflectorKey },
            this.#limiter,
            this.clock.ntpNow,
          )
          if (out.kind !== 'reply') return
          this.schedule(delay, () => deliver(out.reply, { address, port }))
          if (link.duplicate) this.schedule(delay + 1, () => deliver(out.reply, { address, port }))
        })
      },
      onMessage: h => {
        handler = h
      },
      close: () => {
        closed = true
      },
      /** Test hook: inject a datagram as if it came from anywhere. */
      ...{ inject: deliver },
    } as ProbeSocket
  }
}
