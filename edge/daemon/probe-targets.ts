// Which STAMP sessions the daemon runs: one per path. Pure.
//   direct path (uplink U)  from U's address to the first reflector of the same family (the uplink's own
//                           reflectors if it lists any), so the probe leaves by U (the uplink-source
//                           rule) and measures U's path;
//   tunnel path (T)         from T's inner address to the hub's inner address, through the tunnel.
// Metered uplinks (and tunnels over them) probe at meteredIntervalMs unless the policy sets a
// per-uplink interval; an uplink with probing disabled gets no session and is judged by its link alone.
import type { SitePolicy, Uplink } from '../config/policy.js'
import { uplinkAddressing } from '../dataplane/addresses.js'
import type { Facts } from '../dataplane/model.js'
import { parseAddress, parsePrefix } from '../net/prefix.js'
import type { ProbeTarget } from '../../probes/engine/target.js'

export function probeInterval(policy: SitePolicy, uplink: Uplink): number {
  const own = policy.probes.uplinks[uplink.name]?.intervalMs
  return own ?? (uplink.metered ? policy.probes.meteredIntervalMs : policy.probes.intervalMs)
}

export const probingEnabled = (policy: SitePolicy, uplink: Uplink): boolean => policy.probes.uplinks[uplink.name]?.enabled !== false

const hostOf = (interfaceAddress: string): string => interfaceAddress.split('/')[0]!

export function probeTargets(policy: SitePolicy, facts: Facts, authKey?: Buffer): ProbeTarget[] {
  const targets: ProbeTarget[] = []
  const common = (u: Uplink) => ({
    intervalMs: probeInterval(policy, u),
    timeoutMs: policy.probes.timeoutMs,
    // A blackout long enough for path health to call the path down is not loss once it answers again.
    outageMisses: policy.probes.downAfterMisses,
    ...(authKey ? { authKey } : {}),
  })
  for (const u of policy.uplinks) {
    if (!probingEnabled(policy, u)) continue
    const addresses = uplinkAddressing(u, facts).addresses
    for (const r of policy.probes.uplinks[u.name]?.reflectors ?? policy.probes.reflectors) {
      const family = parseAddress(r.address)!.family
      const local = addresses.find(a => a.family === family)
      if (!local) continue
      targets.push({ pathId: u.name, localAddress: local.address, remoteAddress: r.address, port: r.port ?? policy.probes.port, ...common(u) })
      break
    }
  }
  for (const t of policy.tunnels) {
    const u = policy.uplinks.find(x => x.name === t.uplink)!
    if (!probingEnabled(policy, u)) continue
    const hub = policy.hubs.find(h => h.name === t.hub)!
    const local = parsePrefix(t.inner.local) ? hostOf(t.inner.local) : undefined
    if (!local) continue
    targets.push({ pathId: t.name, localAddress: local, remoteAddress: t.inner.remote, port: hub.reflectorPort, ...common(u) })
  }
  return targets
}
