// A DesiredState as a network engineer reads it: paths, classes, tunnels, then every kernel object with
// the reason it exists. Pure; `sdwan-edge plan` prints it.
import { pathName, type SitePolicy } from '../config/policy.js'
import { uplinkAddressing } from './addresses.js'
import { ruleArgs, routeArgs } from './iproute-text.js'
import { tunnelDevice } from './layout.js'
import { classValue, hex32, pathValue } from './marks.js'
import type { Decision, DesiredState, Facts } from './model.js'
import { columns } from '../text/columns.js'

const slaText = (policy: SitePolicy, className: string): string => {
  const sla = policy.classes.find(c => c.name === className)?.sla
  if (!sla) return 'no SLA'
  const parts = [
    sla.maxLatencyMs !== undefined ? `rtt ≤ ${sla.maxLatencyMs} ms` : '',
    sla.maxJitterMs !== undefined ? `jitter ≤ ${sla.maxJitterMs} ms` : '',
    sla.maxLossPct !== undefined ? `loss ≤ ${sla.maxLossPct} %` : '',
    sla.minMos !== undefined ? `MOS ≥ ${sla.minMos}` : '',
  ]
  return parts.filter(Boolean).join(', ')
}

export function planText(policy: SitePolicy, state: DesiredState, decisions: readonly Decision[], facts: Facts): string {
  const out: string[] = []
  const dp = policy.dataplane
  out.push(`Plan for site ${policy.site.id} (device ${policy.device.id}), policy serial ${policy.serial}`)
  out.push(`What the daemon programs at start, before any probe answers. Nothing has been changed.`)
  out.push(`Owned: rule priorities ${dp.rulePriorities.from}-${dp.rulePriorities.to}, tables ${dp.tables.from}-${dp.tables.to}, fwmark bits ${hex32(state.marks.mask)} (class ${hex32(state.marks.classMask)}, path ${hex32(state.marks.pathMask)}), route protocol ${dp.routeProtocol}, nft table inet ${state.nftTable}.`)

  out.push('', 'Paths')
  out.push(
    ...columns([
      ['name', 'kind', 'table', 'path mark', 'leaves by'],
      ...state.paths.map(p => {
        const uplink = policy.uplinks.find(u => u.name === p.uplink)
        const gw = uplink ? uplinkAddressing(uplink, facts) : undefined
        const via =
          p.kind === 'drop' ? 'nowhere (blackhole): fail closed'
          : p.kind === 'tunnel' ? `${p.device} over ${p.uplink}`
          : `${p.device} via ${[gw?.gateway4, gw?.gateway6].filter(Boolean).join(', ') || 'gateway learned from DHCP'}`
        return [p.name, p.kind, String(p.table), hex32(pathValue(state.marks, p.id)), via]
      }),
    ]),
  )

  out.push('', 'Classes (first match wins)')
  out.push(
    ...columns([
      ['name', 'class mark', 'starts on', 'fallbacks', 'SLA'],
      ...state.classes.map(c => {
        const cls = policy.classes.find(x => x.name === c.name)!
        const d = decisions.find(x => x.class === c.name)
        const start = d && d.active.length > 0 ? d.active.map(a => (cls.mode === 'weighted' ? `${a.path}×${a.weight}` : a.path)).join(' + ') : 'drop'
        const rest = cls.paths.map(pathName).filter(n => !d?.active.some(a => a.path === n))
        const fallbacks = [...rest, cls.whenNoPath === 'drop' ? 'then drop' : 'then best-effort'].join(', ')
        return [c.name, hex32(classValue(state.marks, c.id)), start, fallbacks, slaText(policy, c.name)]
      }),
    ]),
  )

  if (state.greLinks.length + state.vxlanLinks.length + state.ipsecConns.length > 0) {
    out.push('', 'Tunnels')
    const rows = [['device', 'type', 'underlay', 'inner', 'mtu']]
    for (const t of policy.tunnels) {
      const gre = state.greLinks.find(g => g.name === tunnelDevice(t.name))
      const vxlan = state.vxlanLinks.find(v => v.name === tunnelDevice(t.name))
      const conn = state.ipsecConns.find(c => c.name === t.name)
      const local = gre?.local ?? vxlan?.local ?? conn?.local ?? `${t.uplink} address (DHCP)`
      const remote = gre?.remote ?? (vxlan ? `${vxlan.remote} udp/${vxlan.port} vni ${vxlan.vni}` : undefined) ?? conn?.remote ?? '?'
      const mtu = gre?.mtu ?? vxlan?.mtu ?? conn?.mtu
      rows.push([tunnelDevice(t.name), t.type, `${local} → ${remote}`, `${t.inner.local} ↔ ${t.inner.remote}`, mtu ? String(mtu) : '?'])
    }
    out.push(...columns(rows))
  }

  out.push('', 'Routing rules (ip rule)')
  const rules = [...state.rules].sort((a, b) => a.priority - b.priority || a.family - b.family)
  out.push(...columns(rules.map(r => [`-${r.family}`, ruleArgs(r), `# ${r.comment}`])))

  out.push('', `Routes (ip route, proto ${dp.routeProtocol})`)
  const routes = [...state.routes].sort((a, b) => a.table - b.table || a.family - b.family || a.metric - b.metric)
  out.push(...columns(routes.map(r => [`-${r.family}`, routeArgs(r), `# ${r.comment}`])))

  out.push('', `nftables (nft -f, replaces table inet ${state.nftTable} in one transaction)`)
  out.push(...state.nft.trimEnd().split('\n').map(l => `  ${l}`))
  return out.join('\n') + '\n'
}
