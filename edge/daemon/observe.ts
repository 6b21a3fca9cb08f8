// From the latest probe metrics and the kernel's link state to what steering decides on: a health
// verdict per path. Pure; `prev` carries the verdicts' hysteresis between evaluations.
//   A tunnel path is down when its uplink is, or when the tunnels layer reports its SA down, whatever
//   its probes say (both act at once).
//   A path nobody probes (probing disabled on its uplink) is as healthy as its link.
import { pathHealth, type PathHealth } from '../../probes/health.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import type { SitePolicy } from '../config/policy.js'
import { uplinkUp } from '../dataplane/addresses.js'
import type { Facts } from '../dataplane/model.js'
import type { Observations } from '../steering/decide.js'
import { probeInterval, probingEnabled } from './probe-targets.js'

/** A tunnel's own state, from the tunnels layer: down when its SA or device is gone. */
export type TunnelState = (tunnel: string) => { up: boolean; reason: string } | undefined

export function observe(
  policy: SitePolicy,
  facts: Facts,
  metrics: (path: string) => PathMetrics | undefined,
  prev: Readonly<Record<string, PathHealth>>,
  now: number,
  tunnelState: TunnelState = () => undefined,
): Observations {
  const out: Record<string, { health: PathHealth; metrics: PathMetrics | null }> = {}
  const paths = [
    ...policy.uplinks.map(u => ({ name: u.name, uplink: u })),
    ...policy.tunnels.map(t => ({ name: t.name, uplink: policy.uplinks.find(u => u.name === t.uplink)! })),
  ]
  for (const { name, uplink } of paths) {
    const tunnel = tunnelState(name)
    if (tunnel && !tunnel.up && uplinkUp(uplink, facts)) {
      // The SA is gone: no probe can answer through it, and waiting for misses would only delay the move.
      const since = prev[name]?.state === 'down' ? prev[name]!.since : now
      out[name] = { health: { state: 'down', reason: `tunnel down: ${tunnel.reason}`, since }, metrics: metrics(name) ?? null }
      continue
    }
    const link = { up: uplinkUp(uplink, facts) }
    const m = metrics(name) ?? null
    if (!probingEnabled(policy, uplink)) {
      const state = link.up ? 'up' : 'down'
      const since = prev[name]?.state === state ? prev[name]!.since : now
      out[name] = { health: { state, reason: link.up ? 'link up (not probed)' : 'carrier lost', since }, metrics: null }
      continue
    }
    const settings = { ...policy.probes, intervalMs: probeInterval(policy, uplink) }
    out[name] = { health: pathHealth(prev[name] ?? null, m, settings, link, now), metrics: m }
  }
  return out
}

/** The health verdicts out of a set of observations, to pass back as `prev`. */
export const healthOf = (obs: Observations): Record<string, PathHealth> =>
  Object.fromEntries(Object.entries(obs).map(([k, v]) => [k, v.health]))
