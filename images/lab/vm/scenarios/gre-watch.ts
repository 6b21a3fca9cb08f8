// Where the lab's ERP datagrams really went, for the GRE scenario (gre-daemon.ts): an nftables table of
// the scenario's own, in the edge and in each provider namespace, counting in the forward hook (before
// any filter or impairment can drop) the GRE packets forwarded, and the ERP datagrams themselves
// (destination and port visible, so not encapsulated) by whether they leave through a tunnel device.
// At the edge the forward hook sees the ERP datagram before GRE wraps it, with the routing decision's
// output device; at a provider a bare ERP datagram means it crossed that wire in the clear.
import { tunnelDevice } from '../../../../edge/dataplane/layout.js'

export const GRE_WATCH_TABLE = 'lab_gre_watch'

export interface GreWatchCounts {
  /** GRE (IP protocol 47) packets forwarded. */
  readonly gre: number
  /** ERP datagrams forwarded into a tunnel device (the edge's sw-*). */
  readonly erpIntoTunnel: number
  /** ERP datagrams forwarded out of any other device: in the clear. */
  readonly erpClear: number
}

/** The table as an `nft -f` script; `service`:`port` is the ERP flow's destination. */
export function greWatchRuleset(service: string, port: number): string {
  const erp = `ip daddr ${service} udp dport ${port}`
  const tunnels = `"${tunnelDevice('')}*"`
  return [
    `table inet ${GRE_WATCH_TABLE} {`,
    '  counter gre { }',
    '  counter erp_into_tunnel { }',
    '  counter erp_clear { }',
    '  chain forward {',
    '    type filter hook forward priority -300; policy accept;',
    '    meta l4proto gre counter name "gre"',
    `    ${erp} oifname ${tunnels} counter name "erp_into_tunnel"`,
    `    ${erp} oifname != ${tunnels} counter name "erp_clear"`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** Parses `nft -j list counters table inet lab_gre_watch`. */
export function parseGreWatch(json: string): GreWatchCounts {
  const items = (JSON.parse(json) as { nftables?: Array<{ counter?: { name: string; packets: number } }> }).nftables ?? []
  const packets = (name: string): number => {
    const counter = items.find(item => item.counter?.name === name)?.counter
    if (counter === undefined) throw new Error(`nft table ${GRE_WATCH_TABLE} has no counter "${name}"`)
    return counter.packets
  }
  return { gre: packets('gre'), erpIntoTunnel: packets('erp_into_tunnel'), erpClear: packets('erp_clear') }
}
