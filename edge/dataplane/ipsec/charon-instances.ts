// Plans one charon instance per uplink: distinct IKE ports, VICI socket and config paths, and the routing
// table each uplink's tunnel routes go to. Pure. libipsec serves one TUN per daemon and ignores marks and
// if_id, so per-uplink daemons are how tunnels stay pinned to their uplink (DESIGN.md, strongSwan 5.9).
import { join } from 'node:path'
import type { CharonInstance } from './charon-config.js'

export interface UplinkCharon {
  /** Uplink name; becomes part of file names, so only [A-Za-z0-9_-]. */
  readonly uplink: string
  readonly netns?: string
  /** Table for this uplink's tunnel routes, from the dataplane's owned range, and its rule priority. */
  readonly routingTable: number
  readonly routingTablePrio: number
}

export interface CharonPlanOptions {
  /** Directory for generated configs and VICI sockets (e.g. /run/sdwan-edge/charon). */
  readonly runDir: string
  /** First IKE port; uplink i gets base + 2i for IKE and base + 2i + 1 for NAT-T. */
  readonly ikePortBase: number
  readonly installRoutes?: boolean
  readonly logLevel?: number
}

export class CharonPlanError extends Error {
  override readonly name = 'CharonPlanError'
  constructor(
    readonly uplink: string,
    problem: string,
  ) {
    super(`charon for uplink "${uplink}": ${problem}`)
  }
}

export function planCharonInstances(uplinks: readonly UplinkCharon[], options: CharonPlanOptions): CharonInstance[] {
  const seenNames = new Set<string>()
  const seenTables = new Map<number, string>()
  return uplinks.map((u, i) => {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(u.uplink)) {
      throw new CharonPlanError(u.uplink, 'name must be 1-32 characters of A-Z a-z 0-9 _ - (it names files)')
    }
    if (seenNames.has(u.uplink)) throw new CharonPlanError(u.uplink, 'listed twice')
    seenNames.add(u.uplink)
    const tableOwner = seenTables.get(u.routingTable)
    if (tableOwner) throw new CharonPlanError(u.uplink, `routing table ${u.routingTable} is already used by uplink "${tableOwner}"`)
    seenTables.set(u.routingTable, u.uplink)
    const ikePort = options.ikePortBase + 2 * i
    if (ikePort + 1 > 65535) throw new CharonPlanError(u.uplink, `IKE ports ${ikePort}/${ikePort + 1} exceed 65535; lower ikePortBase`)
    return {
      name: u.uplink,
      netns: u.netns,
      confPath: join(options.runDir, `${u.uplink}.strongswan.conf`),
      viciSocketPath: join(options.runDir, `${u.uplink}.vici`),
      ikePort,
      natTPort: ikePort + 1,
      routingTable: u.routingTable,
      routingTablePrio: u.routingTablePrio,
      installRoutes: options.installRoutes ?? true,
      logLevel: options.logLevel,
    }
  })
}
