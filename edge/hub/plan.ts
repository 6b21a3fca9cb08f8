// The hub's desired kernel state from its policy and which spoke tunnels are up. Pure.
//
// Per spoke tunnel (id n): xfrm interface swh<n> with if_id 0x5e000000+n and the hub's inner addresses; table
// 2000+n holding `default dev swh<n>`; fib rule `fwmark n/0xfff lookup 2000+n`. Connection marks
// (hub-nft.ts) make every reply, forwarded or locally generated, carry the mark of the tunnel its
// connection last arrived on, so it leaves by that tunnel even when the spoke has several tunnels to
// the same LAN. Traffic the data centre starts toward a spoke has no mark yet: table 2000 routes each
// spoke prefix to the spoke's first tunnel that is up (policy order is preference), or blackholes it
// when none is, so it never falls through to the main table's default route in the clear.
import type { FibRule, Route } from '../dataplane/model.js'
import { parsePrefix } from '../net/prefix.js'
import { HUB_MARK_MASK, hubIfId, SPOKES_RULE_PRIORITY, SPOKES_TABLE, STICKY_RULE_PRIORITY, tunnelTable, xfrmInterfaceName } from './ownership.js'
import { hubNftRuleset } from './hub-nft.js'
import { spokeTunnels, tunnelKey, type HubPolicy, type Spoke, type SpokeTunnel } from './policy.js'

export interface HubInterface {
  readonly name: string
  readonly ifId: number
  readonly mtu: number
  /** The hub's inner addresses with prefix length. */
  readonly addresses: readonly string[]
}

export interface HubTunnelPlan {
  /** `<spoke>.<tunnel>`: the charon conn and CHILD_SA name. */
  readonly key: string
  readonly spoke: Spoke
  readonly tunnel: SpokeTunnel
  readonly device: string
}

export interface HubPlan {
  readonly tunnels: readonly HubTunnelPlan[]
  readonly interfaces: readonly HubInterface[]
  readonly rules: readonly FibRule[]
  readonly routes: readonly Route[]
  readonly nft: string
  /** Where the reflector listens: every inner address of the hub, then the underlay addresses. */
  readonly reflectorAddresses: readonly string[]
}

const address = (withLength: string): string => withLength.split('/')[0]!
const familyOf = (text: string): 4 | 6 => (parsePrefix(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`)!.family)
const innerLocals = (t: SpokeTunnel): string[] => [t.inner.local, ...(t.inner.local6 ? [t.inner.local6] : [])]

/** The families a tunnel carries: those of its LAN prefixes and inner addresses. */
function families(t: SpokeTunnel): Array<4 | 6> {
  const seen = new Set([...t.lanPrefixes, ...innerLocals(t)].map(familyOf))
  return ([4, 6] as const).filter(f => seen.has(f))
}

export function planHub(policy: HubPolicy, up: ReadonlySet<string>): HubPlan {
  const tunnels = spokeTunnels(policy).map(({ spoke, tunnel, key }) => ({ key, spoke, tunnel, device: xfrmInterfaceName(tunnel.id) }))
  const interfaces = tunnels.map(({ tunnel, device }) => ({ name: device, ifId: hubIfId(tunnel.id), mtu: tunnel.mtu, addresses: innerLocals(tunnel) }))

  const rules: FibRule[] = []
  const routes: Route[] = []
  const used = new Set<4 | 6>()
  for (const { tunnel, device, key } of tunnels) {
    for (const family of families(tunnel)) {
      used.add(family)
      rules.push({ family, priority: STICKY_RULE_PRIORITY, fwmark: tunnel.id, fwmask: HUB_MARK_MASK, table: tunnelTable(tunnel.id), comment: `replies of connections that came in on ${key}` })
      routes.push({ family, table: tunnelTable(tunnel.id), dst: family === 4 ? '0.0.0.0/0' : '::/0', type: 'unicast', device, metric: 0, comment: `everything marked for ${key} leaves by it` })
    }
  }
  for (const family of [...used].sort()) {
    rules.push({ family, priority: SPOKES_RULE_PRIORITY, table: SPOKES_TABLE, comment: 'new connections from the data centre to the spokes' })
  }
  for (const spoke of policy.spokes) {
    for (const dst of [...new Set(spoke.tunnels.flatMap(t => t.lanPrefixes))]) {
      const family = familyOf(dst)
      const preferred = spoke.tunnels.find(t => t.lanPrefixes.includes(dst) && up.has(tunnelKey(spoke.device, t.name)))
      routes.push(
        preferred
          ? { family, table: SPOKES_TABLE, dst, type: 'unicast', device: xfrmInterfaceName(preferred.id), metric: 0, comment: `${spoke.device} by ${preferred.name}, its first tunnel up to ${dst}` }
          : { family, table: SPOKES_TABLE, dst, type: 'blackhole', metric: 0, comment: `no tunnel of ${spoke.device} to ${dst} is up: dropped, never sent in the clear` },
      )
    }
  }

  return {
    tunnels,
    interfaces,
    rules,
    routes,
    nft: hubNftRuleset(tunnels.map(t => ({ device: t.device, id: t.tunnel.id }))),
    reflectorAddresses: [...tunnels.flatMap(({ tunnel }) => innerLocals(tunnel).map(address)), ...policy.underlay.addresses],
  }
}
