// `sdwan-edge plan` for a hub policy: what the hub programs, as a network engineer reads it. Pure.
import { ruleArgs, routeArgs } from '../dataplane/iproute-text.js'
import { columns } from '../text/columns.js'
import { HUB_MARK_MASK, HUB_NFT_TABLE, HUB_ROUTE_PROTOCOL, hubIfId } from './ownership.js'
import type { HubPlan } from './plan.js'
import type { HubPolicy } from './policy.js'

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`

/** The plan with every spoke tunnel up (at start none is: each spoke's prefixes are blackholed until one is). */
export function hubPlanText(policy: HubPolicy, plan: HubPlan): string {
  const out: string[] = []
  out.push(`Plan for hub ${policy.device.id} (IKE id ${policy.ikeId}), policy serial ${policy.serial}`)
  out.push('What the hub programs once every spoke tunnel is up; until a tunnel of a spoke is up, its prefixes are blackholed. Nothing has been changed.')
  out.push(`Owned: fwmark bits ${hex(HUB_MARK_MASK)}, route protocol ${HUB_ROUTE_PROTOCOL}, nft table inet ${HUB_NFT_TABLE}; one kernel-ESP charon on UDP 500/4500 at ${policy.underlay.addresses.join(', ')}.`)

  out.push('', 'Spoke tunnels (told apart by the IKE identity the spoke presents)')
  out.push(
    ...columns([
      ['spoke.tunnel', 'IKE id', 'auth', 'xfrm interface', 'if_id', 'mtu', 'inner', 'spoke LAN'],
      ...plan.tunnels.map(({ key, tunnel, device }) => [
        key,
        tunnel.ikeId,
        'pskFile' in tunnel.auth ? 'psk' : 'x509',
        device,
        hex(hubIfId(tunnel.id)),
        String(tunnel.mtu),
        `${tunnel.inner.local} ↔ ${tunnel.inner.remote}`,
        tunnel.lanPrefixes.join(', '),
      ]),
    ]),
  )

  out.push('', 'Routing rules (ip rule)')
  const rules = [...plan.rules].sort((a, b) => a.priority - b.priority || a.family - b.family || a.table - b.table)
  out.push(...columns(rules.map(r => [`-${r.family}`, ruleArgs(r), `# ${r.comment}`])))

  out.push('', `Routes (ip route, proto ${HUB_ROUTE_PROTOCOL})`)
  const routes = [...plan.routes].sort((a, b) => a.table - b.table || a.family - b.family || a.metric - b.metric)
  out.push(...columns(routes.map(r => [`-${r.family}`, routeArgs(r), `# ${r.comment}`])))

  out.push('', `STAMP reflector on UDP ${policy.reflector.port} at ${plan.reflectorAddresses.join(', ')}${policy.reflector.authKeyFile ? ' (authenticated)' : ''}`)

  out.push('', `nftables (nft -f, replaces table inet ${HUB_NFT_TABLE} in one transaction)`)
  out.push(...plan.nft.trimEnd().split('\n').map(l => `  ${l}`))
  return out.join('\n') + '\n'
}
