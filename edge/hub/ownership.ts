// The kernel objects the hub mode owns. Fixed, not configurable, and chosen apart from the edge's
// defaults (policies/schema/site-policy.schema.json `dataplane`: rule priorities 10000-10999, tables
// 1000-1999, fwmark bits 0x00ff0000, route protocol 201, nft table `sdwan`, links `sw-*`) and from
// the kernel's own (config/ownership.ts), so one box can never see two owners for one object.
import type { Ownership } from '../dataplane/ports.js'

/** A spoke tunnel's id (1..4095) is its xfrm if_id, its mark under this mask and its table offset. */
export const HUB_MARK_MASK = 0x00000fff
export const MAX_TUNNEL_ID = 4095

/** Rule priorities: one fwmark rule per tunnel, then the spokes' table for unmarked traffic. */
export const STICKY_RULE_PRIORITY = 11000
export const SPOKES_RULE_PRIORITY = 11001

/** Table 2000 routes spoke prefixes for traffic the data centre starts; 2000 + id is tunnel id's table. */
export const SPOKES_TABLE = 2000
export const tunnelTable = (id: number): number => SPOKES_TABLE + id

/** Our route protocol (the edge's default is 201). */
export const HUB_ROUTE_PROTOCOL = 202

export const HUB_NFT_TABLE = 'sdwan_hub'

/** xfrm interfaces are `swh<id>`: never the edge's `sw-` prefix, and at most 7 characters. */
export const HUB_LINK_PREFIX = 'swh'
export const xfrmInterfaceName = (id: number): string => `${HUB_LINK_PREFIX}${id}`

/**
 * charon's kernel-netlink adds `lookup <routing_table>` at start even with install_routes off; it gets
 * strongSwan's own table and priority (220), outside our ranges, and a mark no packet carries.
 */
export const CHARON_TABLE = 220

export const HUB_OWNERSHIP: Ownership = {
  rulePriorities: { from: STICKY_RULE_PRIORITY, to: SPOKES_RULE_PRIORITY },
  tables: { from: SPOKES_TABLE, to: tunnelTable(MAX_TUNNEL_ID) },
  routeProtocol: HUB_ROUTE_PROTOCOL,
  nftTable: HUB_NFT_TABLE,
  tunnelPrefix: HUB_LINK_PREFIX,
}

/** xfrm if_ids: a block of the hub's own, apart from the edge's (0x5d000000, ipsec/node-tunnels.ts) and from
 *  the small numbers hand-made setups pick. */
export const HUB_IF_ID_BASE = 0x5e000000
export const hubIfId = (id: number): number => HUB_IF_ID_BASE + id
