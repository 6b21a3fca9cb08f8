// What `sdwan-edge status` shows of a running hub: every spoke tunnel up or down, since when, from which
// underlay address, its packets through its xfrm interface, and the reflector's counters. Pure.
import type { IkeSaState } from '../dataplane/vici/sa-state.js'
import type { ReflectorServer } from '../../probes/stamp/reflector-server.js'
import { columns } from '../text/columns.js'
import type { HubPlan } from './plan.js'
import type { HubPolicy } from './policy.js'

export interface HubTunnelStatus {
  spoke: string
  tunnel: string
  id: number
  device: string
  state: 'up' | 'down'
  /** Wall-clock ms of the last change seen by this hub; absent when it never changed since start. */
  since?: number
  /** The spoke's underlay address while an IKE_SA exists. */
  remote?: string
  rxPackets?: number
  txPackets?: number
}

export interface HubStatus {
  role: 'hub'
  device: string
  serial: number
  tunnels: HubTunnelStatus[]
  reflector: { port: number; addresses: string[]; received: number; replied: number; dropped: number }
}

export function hubStatus(
  policy: HubPolicy,
  plan: HubPlan,
  up: ReadonlySet<string>,
  sas: readonly IkeSaState[],
  since: ReadonlyMap<string, number>,
  counters: ReadonlyMap<string, { rxPackets: number; txPackets: number } | undefined>,
  reflectors: readonly ReflectorServer[],
): HubStatus {
  const sum = (f: (c: ReflectorServer['counters']) => number): number => reflectors.reduce((n, r) => n + f(r.counters), 0)
  return {
    role: 'hub',
    device: policy.device.id,
    serial: policy.serial,
    tunnels: plan.tunnels.map(t => {
      const sa = sas.find(s => s.name === t.key)
      const at = since.get(t.key)
      const c = counters.get(t.device)
      return {
        spoke: t.spoke.device,
        tunnel: t.tunnel.name,
        id: t.tunnel.id,
        device: t.device,
        state: up.has(t.key) ? 'up' : 'down',
        ...(at !== undefined ? { since: at } : {}),
        ...(sa ? { remote: sa.remoteHost } : {}),
        ...(c ? c : {}),
      }
    }),
    reflector: {
      port: policy.reflector.port,
      addresses: reflectors.map(r => r.address),
      received: sum(c => c.received),
      replied: sum(c => c.replied),
      dropped: sum(c => c['too-short'] + c['would-amplify'] + c['rate-limited'] + c['bad-hmac']),
    },
  }
}

export function hubStatusText(s: HubStatus): string {
  const up = s.tunnels.filter(t => t.state === 'up').length
  const lines = [`hub ${s.device}, policy serial ${s.serial}: ${up} of ${s.tunnels.length} spoke tunnels up`, '']
  if (s.tunnels.length > 0) {
    lines.push(
      ...columns([
        ['SPOKE', 'TUNNEL', 'ID', 'DEVICE', 'STATE', 'SINCE', 'REMOTE', 'RX PKTS', 'TX PKTS'],
        ...s.tunnels.map(t => [
          t.spoke,
          t.tunnel,
          String(t.id),
          t.device,
          t.state,
          t.since !== undefined ? new Date(t.since).toISOString().slice(11, 19) : '-',
          t.remote ?? '-',
          t.rxPackets !== undefined ? String(t.rxPackets) : '-',
          t.txPackets !== undefined ? String(t.txPackets) : '-',
        ]),
      ]),
    )
  }
  const r = s.reflector
  lines.push('', `reflector port ${r.port} on ${r.addresses.join(', ') || '(nothing)'}: ${r.received} received, ${r.replied} replied, ${r.dropped} dropped`)
  return lines.join('\n') + '\n'
}
