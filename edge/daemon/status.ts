// What `sdwan-edge status` shows: the daemon's state as a JSON report (for tools) and as text a person
// reads at a glance. Pure.
import { uplinkAddressing } from '../dataplane/addresses.js'
import { pathName } from '../config/policy.js'
import type { DaemonSnapshot } from './edge-daemon.js'
import { columns } from '../text/columns.js'
import { lastMinuteLossPct } from '../../probes/metrics/path-metrics.js'

export interface StatusReport {
  site: string
  device: string
  serial: number
  startedAt: string
  warmingUp: boolean
  uplinks: Array<{ name: string; kind: string; interface: string; up: boolean; addresses: string[]; gateway?: string }>
  paths: Array<{
    name: string
    state: string
    reason: string
    forS: number
    rttMs?: number
    p95Ms?: number
    jitterMs?: number
    /** Loss over the window's probes. */
    lossPct?: number
    /** Loss over the last minute's probes (the loss horizon), which a loss SLA is judged on as well. */
    lastMinuteLossPct?: number
    mos?: number | null
  }>
  classes: Array<{ name: string; active: string[]; keep: string[]; reason: string; sinceS?: number; preferred: string }>
  recent: Array<{ time: string; class: string; from: string[]; to: string[]; reason: string }>
  lastApply?: { time: string; ops: number; failed: number }
  /** Which IPsec backend the tunnels run on, and why (edge/dataplane/ipsec/ipsec-backend.ts). */
  ipsec?: { backend: string; reason: string }
}

const r2 = (x: number): number => Math.round(x * 100) / 100

export function statusReport(s: DaemonSnapshot, now: number, ipsec?: StatusReport['ipsec']): StatusReport {
  const p = s.policy
  return {
    site: p.site.id,
    device: p.device.id,
    serial: p.serial,
    startedAt: new Date(s.startedAt).toISOString(),
    warmingUp: s.warmingUp,
    uplinks: p.uplinks.map(u => {
      const a = uplinkAddressing(u, s.facts)
      const gateway = a.gateway4 ?? a.gateway6
      return { name: u.name, kind: u.kind, interface: u.interface, up: s.facts[u.name]?.up ?? false, addresses: a.addresses.map(x => x.address), ...(gateway ? { gateway } : {}) }
    }),
    paths: Object.entries(s.health).map(([name, h]) => {
      const m = s.metrics[name]
      const lastMinute = m ? lastMinuteLossPct(m) : null
      return {
        name,
        state: h.state,
        reason: h.reason,
        forS: Math.max(0, Math.round((now - h.since) / 1000)),
        ...(m?.rtt ? { rttMs: r2(m.rtt.avgMs), p95Ms: r2(m.rtt.p95Ms) } : {}),
        ...(m ? { jitterMs: r2(m.jitterMs), lossPct: r2(m.lossPct) } : {}),
        ...(lastMinute !== null ? { lastMinuteLossPct: r2(lastMinute) } : {}),
        ...(m ? { mos: m.mos === null ? null : r2(m.mos) } : {}),
      }
    }),
    classes: s.decisions.map(d => {
      const track = s.steering[d.class]
      const cls = p.classes.find(c => c.name === d.class)!
      return {
        name: d.class,
        active: d.active.map(a => a.path),
        keep: d.keep,
        reason: d.reason,
        ...(track ? { sinceS: Math.max(0, Math.round((now - track.switchedAt) / 1000)) } : {}),
        preferred: pathName(cls.paths[0]!),
      }
    }),
    recent: s.recent.slice(-10).map(c => ({ time: new Date(c.wallAt).toISOString(), class: c.class, from: c.from, to: c.to, reason: c.reason })),
    ...(s.lastApply ? { lastApply: { time: new Date(s.lastApply.at).toISOString(), ops: s.lastApply.ops, failed: s.lastApply.failed.length } } : {}),
    ...(ipsec ? { ipsec } : {}),
  }
}

const fmt = (x: number | undefined | null, unit = ''): string => (x === undefined || x === null ? '-' : `${x}${unit}`)

export function statusText(r: StatusReport): string {
  const out = [`${r.site} / ${r.device}  policy serial ${r.serial}  up since ${r.startedAt}${r.warmingUp ? '  (warming up)' : ''}`, '', 'Uplinks']
  out.push(...columns([['name', 'kind', 'interface', 'link', 'address', 'gateway'], ...r.uplinks.map(u => [u.name, u.kind, u.interface, u.up ? 'up' : 'DOWN', u.addresses.join(' ') || '-', u.gateway ?? '-'])]))
  out.push('', 'Paths')
  out.push(
    ...columns([
      ['name', 'state', 'rtt', 'p95', 'jitter', 'loss', 'loss 1m', 'MOS', 'for', 'why'],
      ...r.paths.map(p => [
        p.name,
        p.state === 'up' ? 'up' : p.state.toUpperCase(),
        fmt(p.rttMs, ' ms'),
        fmt(p.p95Ms, ' ms'),
        fmt(p.jitterMs, ' ms'),
        fmt(p.lossPct, ' %'),
        fmt(p.lastMinuteLossPct, ' %'),
        fmt(p.mos),
        `${p.forS} s`,
        p.reason,
      ]),
    ]),
  )
  out.push('', 'Classes')
  out.push(
    ...columns([
      ['name', 'on', 'since', 'why'],
      ...r.classes.map(c => [c.name, c.active.length ? c.active.join('+') : 'DROPPED', c.sinceS === undefined ? '-' : `${c.sinceS} s`, `${c.active[0] !== c.preferred ? '(not preferred) ' : ''}${c.reason}`]),
    ]),
  )
  if (r.recent.length > 0) {
    out.push('', 'Recent re-steers')
    out.push(...r.recent.map(c => `  ${c.time}  ${c.class}: ${c.from.join('+') || 'dropped'} → ${c.to.join('+') || 'dropped'}  ${c.reason}`))
  }
  if (r.lastApply) out.push('', `Last kernel apply ${r.lastApply.time}: ${r.lastApply.ops} operations, ${r.lastApply.failed} failed`)
  if (r.ipsec) out.push('', `IPsec backend ${r.ipsec.backend} (${r.ipsec.reason})`)
  return out.join('\n') + '\n'
}
