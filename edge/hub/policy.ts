// The hub policy as the hub mode sees it after validation, every default filled in (see
// policies/schema/hub-policy.schema.json, the one source of truth for field meaning and ranges).

export interface HubPolicy {
  version: 1
  serial: number
  device: { id: string; role: 'hub'; name?: string }
  ikeId: string
  certificate?: { certFile: string; keyFile: string }
  underlay: { addresses: string[] }
  dcPrefixes: string[]
  reflector: { port: number; authKeyFile?: string }
  spokes: Spoke[]
}

export interface Spoke {
  device: string
  tunnels: SpokeTunnel[]
}

export type SpokeAuth = { pskFile: string } | { caFile: string }

export interface SpokeTunnel {
  name: string
  id: number
  ikeId: string
  auth: SpokeAuth
  inner: { local: string; remote: string; local6?: string; remote6?: string }
  lanPrefixes: string[]
  ikeProposals: string[]
  espProposals: string[]
  dpdDelayS: number
  mtu: number
}

/** A spoke tunnel's name on the hub: unique, since tunnel names are unique per spoke and carry no '.'. */
export const tunnelKey = (spoke: string, tunnel: string): string => `${spoke}.${tunnel}`

/** Every spoke tunnel with its spoke and JSON pointer, in policy order. */
export function spokeTunnels(policy: HubPolicy): Array<{ spoke: Spoke; tunnel: SpokeTunnel; key: string; pointer: string }> {
  return policy.spokes.flatMap((spoke, si) =>
    spoke.tunnels.map((tunnel, ti) => ({ spoke, tunnel, key: tunnelKey(spoke.device, tunnel.name), pointer: `/spokes/${si}/tunnels/${ti}` })),
  )
}
