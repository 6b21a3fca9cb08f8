// The per-uplink topology shared by the per-uplink test and the probe-load benchmark: an edge namespace
// with uplinks up1..up3 (veth) to provider namespaces p1..p3, each hosting the same reflector address
// 198.18.0.1 on its loopback; the edge's main default route uses up1 only, and source-address rules
// `from 10.20<i>.0.2 lookup 10<i>` (what the dataplane will own) send each uplink's traffic out of it.
import type { NetnsLab } from './netns.js'

export const REFLECTOR_ADDRESS = '198.18.0.1'
export const UPLINKS = [1, 2, 3] as const
export const uplinkAddress = (i: number): string => `10.20${i}.0.2`
export const providerGateway = (i: number): string => `10.20${i}.0.1`

export interface ThreeUplinks {
  readonly edge: string
  /** providers[i - 1] is behind up<i>. */
  readonly providers: readonly string[]
}

export function buildThreeUplinks(lab: NetnsLab): ThreeUplinks {
  const edge = lab.ns('e')
  const providers = UPLINKS.map(i => lab.ns(`p${i}`))
  for (const i of UPLINKS) {
    const p = providers[i - 1]!
    lab.veth(edge, `up${i}`, `${uplinkAddress(i)}/24`, p, 'wan', `${providerGateway(i)}/24`)
    lab.exec(p, 'ip', 'addr', 'add', `${REFLECTOR_ADDRESS}/32`, 'dev', 'lo')
    lab.exec(edge, 'ip', 'route', 'add', 'default', 'via', providerGateway(i), 'dev', `up${i}`, 'table', String(100 + i))
    lab.exec(edge, 'ip', 'rule', 'add', 'from', uplinkAddress(i), 'lookup', String(100 + i), 'pref', String(1000 + i))
  }
  lab.exec(edge, 'ip', 'route', 'add', 'default', 'via', providerGateway(1), 'dev', 'up1')
  return { edge, providers }
}
