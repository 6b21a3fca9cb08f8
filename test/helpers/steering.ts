// Builders for steering tests: a small policy and path observations with chosen figures.
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import type { PathObservation } from '../../edge/steering/decide.js'
import { parsePolicy } from '../../edge/config/load.js'
import type { SitePolicy } from '../../edge/config/policy.js'

export function policyFrom(yaml: string): SitePolicy {
  const r = parsePolicy('test.yaml', yaml)
  if (!r.ok) throw new Error(r.errors.map(e => `${e.line}:${e.column} ${e.pointer}: ${e.message}`).join('\n'))
  return r.policy
}

/** Three uplinks (a, b, c) and one class per failover setting under test; SLA rtt ≤ 100, loss ≤ 2. */
export function threeUplinks(classYaml: string): SitePolicy {
  return policyFrom(`version: 1
serial: 1
site: { id: s }
device: { id: d }
lan: [{ name: lan, interface: br0, prefixes: [10.1.0.0/24] }]
uplinks:
  - { name: a, kind: broadband, interface: eth1, addressing: { mode: dhcp } }
  - { name: b, kind: lte, interface: eth2, addressing: { mode: dhcp } }
  - { name: c, kind: mpls, interface: eth3, addressing: { mode: dhcp } }
classes:
${classYaml}
probes: { reflectors: [{ address: 192.0.2.1 }] }
`)
}

export interface Figures {
  rtt?: number
  /** RFC 3550 jitter; also the recent jitter unless recentJitter is given. */
  jitter?: number
  recentJitter?: number
  /**
   * Loss percentage of the window (100 probes) and of the loss horizon, which is given 10 000 probes so
   * that the figure is judged with little doubt (judgedLossPct's confidence bound sits ~0.3–0.5 below it).
   */
  loss?: number
  mos?: number | null
}

export function metrics(f: Figures, at = 0): PathMetrics {
  const rtt = f.rtt ?? 20
  return {
    pathId: 'p',
    at,
    settled: 100,
    received: 100 - Math.round(f.loss ?? 0),
    lost: Math.round(f.loss ?? 0),
    late: 0,
    duplicates: 0,
    reordered: 0,
    lossPct: f.loss ?? 0,
    outageLost: 0,
    lossHorizon: { lost: Math.round((f.loss ?? 0) * 100), settled: 10_000 },
    rtt: { minMs: rtt, avgMs: rtt, maxMs: rtt, p50Ms: rtt, p95Ms: rtt, p99Ms: rtt },
    recentRttMs: rtt,
    jitterMs: f.jitter ?? 1,
    recentJitterMs: f.recentJitter ?? f.jitter ?? 1,
    ipdv: null,
    mos: f.mos === undefined ? 4.3 : f.mos,
    lastReplyAt: at,
    lastStray: null,
    firstSentAt: 0,
    consecutiveReplies: 10,
    consecutiveMisses: 0,
    totalSent: 100,
    totalReceived: 100,
  }
}

export const up = (f: Figures = {}, since = 0): PathObservation => ({ health: { state: 'up', reason: 'ok', since }, metrics: metrics(f) })
export const degraded = (f: Figures = {}, since = 0): PathObservation => ({ health: { state: 'degraded', reason: 'brownout', since }, metrics: metrics(f) })
export const down = (since = 0, reason = 'blackout: no reply for 200 ms'): PathObservation => ({ health: { state: 'down', reason, since }, metrics: null })
