// The edge daemon's loop: probe metrics and kernel link events in, steering decisions out, the kernel
// converged to them. Every side effect comes in through `DaemonDeps` (the composition root, edge/main.ts,
// wires the real ones; tests wire fakes).
//
//   evaluate (on every batch of probe snapshots, at once on a link or tunnel event, and on a slow
//            fallback tick for when no snapshots come)
//     observe: metrics + link state → health per path          [pure]
//     decide:  policy + health + prev → decisions + changes      [pure]
//     desired: policy + decisions + facts → kernel state          [pure]
//     reconciler.set(desired)                                     [side effect, serialised]
//
// Warm-up, per path: a path whose link is up, that has never been up, and whose first probe went out
// less than (upAfterReplies + downAfterMisses) intervals plus a timeout ago has no verdict yet and is
// taken as usable, so start-up behaves like the plan (every class on its first path) instead of dropping
// classes while probing starts. It follows the probes, not a clock: a probe engine slow to start on a
// loaded box does not end the warm-up early.
import type { PathHealth } from '../../probes/health.js'
import type { ProbeTarget } from '../../probes/engine/target.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import type { SitePolicy } from '../config/policy.js'
import { desired, initialDecisions } from '../dataplane/desired.js'
import { uplinkFacts } from '../dataplane/facts.js'
import type { Decision, DesiredState, Facts, IpsecConn } from '../dataplane/model.js'
import type { KernelEvent, KernelFacts } from '../dataplane/ports.js'
import type { ApplyReport } from '../dataplane/reconciler.js'
import { decide, type Observations, type SteeringChange, type SteeringState } from '../steering/decide.js'
import { healthOf, observe } from './observe.js'
import { probeInterval, probeTargets } from './probe-targets.js'

export interface ProbePort {
  update(targets: readonly ProbeTarget[]): void
  latest(pathId: string): PathMetrics | undefined
  stop(): Promise<void>
}

/** The tunnels layer: brings the IPsec conns of the desired state up and says how each tunnel is. */
export interface TunnelPort {
  /** Converges to exactly these conns (idempotent; conns not listed are torn down). */
  set(conns: readonly IpsecConn[]): Promise<void>
  state(tunnel: string): { up: boolean; reason: string } | undefined
  /** Called whenever a tunnel goes up or down. */
  onChange(listener: () => void): void
  stop(): Promise<void>
}

export interface DaemonLog {
  info(fields: object, msg: string): void
  warn(fields: object, msg: string): void
  error(fields: object, msg: string): void
}

export interface DaemonDeps {
  /** Monotonic milliseconds, the probes' timebase (probes/clock.ts monotonicMs). */
  now(): number
  /** Wall-clock milliseconds, for logs and reports only. */
  wallNow(): number
  timers: { setInterval(fn: () => void, ms: number): unknown; clearInterval(handle: unknown): void }
  kernel: { facts(): Promise<KernelFacts>; watch(listener: (e: KernelEvent) => void): () => void }
  reconciler: { set(want: DesiredState | null): Promise<ApplyReport> }
  /**
   * Loosens strict reverse-path filtering on these devices (the uplinks and the paths' tunnel devices,
   * edge/dataplane/rp-filter.ts); resolves with the devices it changed.
   */
  loosenRpFilter?(devices: readonly string[]): Promise<string[]>
  /** Starts probing; `onSnapshots` is called whenever fresh metrics for the paths have arrived. */
  startProbes(targets: readonly ProbeTarget[], onSnapshots: () => void): ProbePort
  log: DaemonLog
  /** Every re-steer, with the decisions it led to, for the decision log and telemetry. */
  onChanges?(changes: SteeringChange[], decisions: readonly Decision[], wallAt: number): void
  /** HMAC key for authenticated STAMP, when the policy names one. */
  authKey?: Buffer
  /** IPsec tunnels; without it the policy's IPsec tunnel paths never come up (probes get no answer). */
  tunnels?: TunnelPort
}

export interface ApplyOutcome {
  at: number
  ops: number
  failed: Array<{ op: string; error: string }>
}

export interface DaemonSnapshot {
  policy: SitePolicy
  facts: Facts
  health: Record<string, PathHealth>
  metrics: Record<string, PathMetrics | undefined>
  decisions: Decision[]
  steering: SteeringState
  recent: Array<SteeringChange & { wallAt: number }>
  lastApply: ApplyOutcome | undefined
  startedAt: number
  warmingUp: boolean
}

const RECENT_CHANGES = 50
/** How long the probe engine may take to send its first probe on a loaded box. */
const PROBE_START_GRACE_MS = 5000

export class EdgeDaemon {
  private policy: SitePolicy
  private facts: Facts = {}
  private health: Record<string, PathHealth> = {}
  private steering: SteeringState = {}
  private decisions: Decision[]
  private recent: Array<SteeringChange & { wallAt: number }> = []
  private lastApply: ApplyOutcome | undefined
  private probes: ProbePort | undefined
  private targetsKey = ''
  private connsKey = ''
  private tick: unknown
  private unwatch: (() => void) | undefined
  private readonly seenUp = new Set<string>()
  private warming = new Set<string>()
  private probingSince = 0
  private startedAt = 0
  /** The steering round under way (with the extra rounds asked for during it), if any. */
  private round: Promise<void> | undefined
  private again = false
  /** Set by stop(): nothing may steer or program the kernel after it, whatever event comes late. */
  private stopped = false
  private factsDirty = false
  private lastRoundAt = -Infinity

  constructor(
    policy: SitePolicy,
    private readonly deps: DaemonDeps,
  ) {
    this.policy = policy
    this.decisions = initialDecisions(policy)
  }

  /** Reads the kernel's facts, programs the initial state, starts probing and the steering loop. */
  async start(): Promise<void> {
    this.startedAt = this.deps.wallNow()
    // Before anything can call evaluate(): a link or tunnel event during start-up must already find the
    // paths warming up, not judged for want of probes that have not started yet.
    this.probingSince = this.deps.now()
    this.unwatch = this.deps.kernel.watch(e => this.onKernelEvent(e))
    this.deps.tunnels?.onChange(() => void this.evaluate())
    await this.refreshFacts()
    await this.apply()
    this.probingSince = this.deps.now()
    this.probes = this.deps.startProbes(this.targets(), () => void this.evaluate())
    this.targetsKey = JSON.stringify(this.targets())
    this.tick = this.deps.timers.setInterval(() => this.onFallbackTick(), this.fallbackTickMs())
    this.deps.log.info({ site: this.policy.site.id, serial: this.policy.serial, paths: this.targets().length }, 'edge daemon started')
  }

  /** Stops probing and the loop. Forwarding is left as it is (fail-static) unless `flush`. */
  async stop(flush: boolean): Promise<void> {
    this.stopped = true
    if (this.tick !== undefined) this.deps.timers.clearInterval(this.tick)
    this.tick = undefined
    this.unwatch?.()
    // A round under way would program the kernel after the flush below (the tunnels going down on stop
    // notify us too): let it finish first; later ones see `stopped` and do nothing.
    await this.round
    await this.probes?.stop()
    if (flush) await this.deps.tunnels?.stop()
    if (flush) {
      const report = await this.deps.reconciler.set(null)
      this.deps.log.info({ ops: report.ops.length, failed: report.failed.length }, 'removed every kernel object we own')
    } else {
      this.deps.log.info({}, 'stopped; forwarding left as it is (fail-static)')
    }
  }

  /** Switches to an already validated policy; the running one stays if applying fails. */
  async reload(policy: SitePolicy): Promise<void> {
    const old = this.policy
    this.policy = policy
    try {
      await this.refreshFacts()
      this.seenUp.clear()
      this.probingSince = this.deps.now()
      const now = this.deps.now()
      const r = decide(policy, this.observations(now).forDecide, this.steering, now)
      this.steering = r.state
      this.decisions = r.decisions
      await this.apply()
      this.updateTargets()
      if (this.tick !== undefined) {
        this.deps.timers.clearInterval(this.tick)
        this.tick = this.deps.timers.setInterval(() => this.onFallbackTick(), this.fallbackTickMs())
      }
      this.deps.log.info({ serial: policy.serial, previous: old.serial }, 'policy reloaded')
    } catch (err) {
      this.policy = old
      this.deps.log.error({ err, serial: policy.serial }, 'policy reload failed; kept the running policy')
      await this.apply()
      throw err
    }
  }

  snapshot(): DaemonSnapshot {
    const metrics: Record<string, PathMetrics | undefined> = {}
    for (const name of [...this.policy.uplinks.map(u => u.name), ...this.policy.tunnels.map(t => t.name)]) metrics[name] = this.probes?.latest(name)
    return {
      policy: this.policy,
      facts: this.facts,
      health: this.health,
      metrics,
      decisions: this.decisions,
      steering: this.steering,
      recent: [...this.recent],
      lastApply: this.lastApply,
      startedAt: this.startedAt,
      warmingUp: this.warming.size > 0,
    }
  }

  /** A steering round now (the orchestrator's re-steer command); returns the classes whose path changed. */
  async resteer(): Promise<string[]> {
    const before = new Map(this.decisions.map(d => [d.class, JSON.stringify(d.active)]))
    await this.evaluate()
    return this.decisions.filter(d => before.get(d.class) !== JSON.stringify(d.active)).map(d => d.class)
  }

  /** One steering round: observe, decide, converge if anything changed. */
  async evaluate(): Promise<void> {
    if (this.stopped) return
    if (this.round) {
      // A link event during a round: run once more right after, rather than wait for the next tick.
      this.again = true
      return this.round
    }
    this.round = this.rounds()
    try {
      await this.round
    } finally {
      this.round = undefined
    }
  }

  private async rounds(): Promise<void> {
    do {
      this.again = false
      await this.evaluateOnce()
    } while (this.again && !this.stopped)
  }

  private async evaluateOnce(): Promise<void> {
    try {
      // Facts shape the desired state on their own (routes via a gateway exist only while the uplink is
      // up; the kernel drops them with the carrier), so a change in facts re-applies even when no
      // decision moves — else a link coming back would never get its routes, nor its probes a way out.
      const factsChanged = this.factsDirty && (await this.refreshFacts())
      const now = this.deps.now()
      this.lastRoundAt = now
      const { forDecide } = this.observations(now)
      const r = decide(this.policy, forDecide, this.steering, now)
      this.steering = r.state
      if (r.changes.length > 0) {
        const wallAt = this.deps.wallNow()
        for (const c of r.changes) {
          this.deps.log.info({ class: c.class, from: c.from, to: c.to, paths: c.paths }, `re-steer ${c.class}: ${c.reason}`)
          this.recent.push({ ...c, wallAt })
        }
        this.recent.splice(0, Math.max(0, this.recent.length - RECENT_CHANGES))
        this.deps.onChanges?.(r.changes, r.decisions, wallAt)
      }
      if (factsChanged || !sameDecisions(r.decisions, this.decisions)) {
        this.decisions = r.decisions
        await this.apply()
      }
    } catch (err) {
      this.deps.log.error({ err }, 'steering round failed')
    }
  }

  private observations(now: number): { forDecide: Observations } {
    const obs = observe(this.policy, this.facts, p => this.probes?.latest(p), this.health, now, t => this.deps.tunnels?.state(t))
    this.health = healthOf(obs)
    for (const [name, o] of Object.entries(obs)) if (o.health.state !== 'down') this.seenUp.add(name)
    const forDecide: Record<string, Observations[string]> = { ...obs }
    this.warming = new Set()
    for (const [name, o] of Object.entries(obs)) {
      if (o.health.state !== 'down' || this.seenUp.has(name) || o.health.reason === 'carrier lost' || o.health.reason.startsWith('tunnel down')) continue
      // Before its first probe, a path waits for the probe engine to start, within a bound: a path that
      // never gets a probe session at all must not count as usable for ever.
      const first = o.metrics?.firstSentAt ?? null
      const since = first ?? this.probingSince + PROBE_START_GRACE_MS
      if (now - since >= this.verdictDelay(name)) continue
      this.warming.add(name)
      forDecide[name] = { health: { state: 'up', reason: 'warming up: no verdict yet', since: o.health.since }, metrics: o.metrics }
    }
    return { forDecide }
  }

  private async apply(): Promise<void> {
    const state = desired(this.policy, this.decisions, this.facts)
    const report = await this.deps.reconciler.set(state)
    await this.loosenRpFilter(state)
    const conns = JSON.stringify(state.ipsecConns)
    if (this.deps.tunnels && conns !== this.connsKey) {
      this.connsKey = conns
      await this.deps.tunnels.set(state.ipsecConns).catch(err => this.deps.log.error({ err }, 'tunnels could not be brought to the policy'))
      // The IPsec tunnels' devices exist only now.
      await this.loosenRpFilter(state)
    }
    this.lastApply = {
      at: this.deps.wallNow(),
      ops: report.ops.length,
      failed: report.failed.map(f => ({ op: JSON.stringify(f.op), error: f.error.message })),
    }
    if (report.failed.length > 0) this.deps.log.warn({ failed: this.lastApply.failed }, `${report.failed.length} of ${report.ops.length} kernel operations failed`)
  }

  /** Strict reverse-path filtering on the uplinks and the paths' devices, loosened (rp-filter.ts). */
  private async loosenRpFilter(state: DesiredState): Promise<void> {
    if (!this.deps.loosenRpFilter) return
    const devices = [...this.policy.uplinks.map(u => u.interface), ...state.paths.flatMap(p => (p.device ? [p.device] : []))]
    const loosened = await this.deps.loosenRpFilter(devices).catch((err: Error) => {
      this.deps.log.warn({ err }, 'could not read or set reverse-path filtering')
      return []
    })
    if (loosened.length > 0) {
      this.deps.log.info({ devices: loosened }, 'reverse-path filtering set loose (2) where it was strict: strict drops replies that come back by a non-default uplink or a tunnel')
    }
  }

  private onKernelEvent(e: KernelEvent): void {
    if (e.kind !== 'link-changed' && e.kind !== 'address-changed') return
    const uplink = this.policy.uplinks.find(u => u.interface === e.link)
    if (!uplink) return
    // A carrier or address change on an uplink takes its paths down (or up) now, not at the next probe.
    this.factsDirty = true
    void this.evaluate().then(() => this.updateTargets())
  }

  /** Reads the uplinks' facts from the kernel; true when they differ from what we had. */
  private async refreshFacts(): Promise<boolean> {
    this.factsDirty = false
    const facts = uplinkFacts(this.policy, await this.deps.kernel.facts())
    const changed = JSON.stringify(facts) !== JSON.stringify(this.facts)
    this.facts = facts
    return changed
  }

  private targets(): ProbeTarget[] {
    return probeTargets(this.policy, this.facts, this.deps.authKey)
  }

  private updateTargets(): void {
    const targets = this.targets()
    const key = JSON.stringify(targets)
    if (key === this.targetsKey || !this.probes) return
    this.targetsKey = key
    this.probes.update(targets)
  }

  /** How long after its first probe a path has had every chance to earn a verdict. */
  private verdictDelay(path: string): number {
    const tunnel = this.policy.tunnels.find(t => t.name === path)
    const uplink = this.policy.uplinks.find(u => u.name === (tunnel?.uplink ?? path))!
    const { upAfterReplies, downAfterMisses, timeoutMs } = this.policy.probes
    return probeInterval(this.policy, uplink) * (upAfterReplies + downAfterMisses) + timeoutMs
  }

  /**
   * Rounds follow the probe snapshots (one batch per shortest interval), so a dead path is judged as soon
   * as fresh figures say so, and the loop wakes no more often than the evidence changes (each wake-up
   * costs ~90 µs of CPU on a small box; a 25 ms tick was 40 of them a second). The tick only covers for
   * snapshots that stop coming (no path probed): the downAfterMisses span of the
   * shortest interval, within 100–1000 ms; it does nothing when a round ran within that span.
   */
  private onFallbackTick(): void {
    if (this.deps.now() - this.lastRoundAt >= this.fallbackTickMs()) void this.evaluate()
  }

  private fallbackTickMs(): number {
    const shortest = Math.min(...this.policy.uplinks.map(u => probeInterval(this.policy, u)))
    return Math.max(100, Math.min(1000, shortest * this.policy.probes.downAfterMisses))
  }
}

/** Same classes, paths, weights and kept paths (reasons aside): nothing for the kernel to change. Runs every round. */
function sameDecisions(a: readonly Decision[], b: readonly Decision[]): boolean {
  return (
    a.length === b.length &&
    a.every((d, i) => {
      const e = b[i]!
      return (
        d.class === e.class &&
        d.active.length === e.active.length &&
        d.active.every((p, j) => p.path === e.active[j]!.path && p.weight === e.active[j]!.weight) &&
        d.keep.length === e.keep.length &&
        d.keep.every((k, j) => k === e.keep[j])
      )
    })
  )
}
