// The routes of every path table. Pure.
//
// Every table ends in `blackhole default` for both families at the top metric: a fib rule whose table
// has no matching route lets the lookup continue with the next rule (fib_rules_lookup only stops on a
// match), which would leak a class into the main table; a blackhole route is a match, so it stops there.
import type { SitePolicy, Tunnel } from '../config/policy.js'
import type { Facts, Family, Route } from './model.js'
import type { Layout } from './layout.js'
import { uplinkAddressing, uplinkUp } from './addresses.js'
import { formatPrefix, networkOf, parsePrefix } from '../net/prefix.js'

/** Metric of the routes that carry traffic. Explicit, because IPv6 turns 0 into 1024 (IP6_RT_PRIO_USER). */
export const PATH_METRIC = 100
/** Metric of the fail-closed blackholes: the largest the kernel takes, so any real route wins. */
export const BLACKHOLE_METRIC = 0xffffffff

const DEFAULT: Record<Family, string> = { 4: '0.0.0.0/0', 6: '::/0' }

function blackholes(table: number, why: string): Route[] {
  return ([4, 6] as const).map(family => ({
    family,
    table,
    dst: DEFAULT[family],
    type: 'blackhole' as const,
    metric: BLACKHOLE_METRIC,
    comment: `fail closed: ${why}`,
  }))
}

/**
 * A VXLAN link is Ethernet, not point-to-point: its destinations go via the hub's inner address (a
 * device route would ARP for every destination on the segment), after the inner network it resolves
 * in. A family without an inner address pair has no route; the blackhole below takes it.
 */
function vxlanRoutes(t: Tunnel, table: number, device: string): Route[] {
  const routes: Route[] = []
  const inner = [[t.inner.local, t.inner.remote], [t.inner.local6, t.inner.remote6]] as const
  for (const [local, gateway] of inner) {
    const p = local ? parsePrefix(local) : undefined
    if (!p || !gateway) continue
    routes.push({ family: p.family, table, dst: formatPrefix(networkOf(p)), type: 'unicast', device, metric: PATH_METRIC, comment: `${t.name} inner network` })
    for (const dst of t.remotePrefixes) {
      const d = parsePrefix(dst)
      if (d?.family !== p.family) continue
      routes.push({ family: d.family, table, dst: formatPrefix(networkOf(d)), type: 'unicast', gateway, device, metric: PATH_METRIC, comment: `${t.name} reaches ${dst} via the hub's inner address` })
    }
  }
  return routes
}

export function pathRoutes(policy: SitePolicy, l: Layout, facts: Facts): Route[] {
  const routes: Route[] = []
  for (const path of l.paths) {
    if (path.kind === 'direct') {
      const u = policy.uplinks.find(x => x.name === path.uplink)
      if (!u) continue
      const a = uplinkAddressing(u, facts)
      if (uplinkUp(u, facts)) {
        // The connected network first: the gateway must resolve inside this table, and the kernel
        // validates a gateway by looking it up in the route's own table (fib_check_nh_v4_gw), where
        // the blackhole default would otherwise answer.
        for (const addr of a.addresses)
          routes.push({ family: addr.family, table: path.table, dst: addr.network, type: 'unicast', device: u.interface, metric: PATH_METRIC, comment: `${u.name} connected network` })
        for (const [family, gw] of [[4, a.gateway4], [6, a.gateway6]] as const)
          if (gw)
            routes.push({ family, table: path.table, dst: DEFAULT[family], type: 'unicast', gateway: gw, device: u.interface, metric: PATH_METRIC, comment: `${u.name} default via its gateway` })
      }
      routes.push(...blackholes(path.table, `${u.name} table`))
    } else if (path.kind === 'tunnel') {
      const t = policy.tunnels.find(x => x.name === path.tunnel)
      if (!t) continue
      if (t.type === 'vxlan') routes.push(...vxlanRoutes(t, path.table, path.device!))
      else
        for (const dst of t.remotePrefixes) {
          const p = parsePrefix(dst)
          if (!p) continue
          routes.push({ family: p.family, table: path.table, dst: formatPrefix(networkOf(p)), type: 'unicast', device: path.device, metric: PATH_METRIC, comment: `${t.name} reaches ${dst}` })
        }
      routes.push(...blackholes(path.table, `tunnel ${t.name} table`))
    } else {
      routes.push(...blackholes(path.table, 'drop path'))
    }
  }
  return routes
}
