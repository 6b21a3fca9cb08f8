// The hub's nftables table (`inet sdwan_hub`) as `nft -f` text. Pure.
//
//   prerouting/mangle  a packet arriving on spoke tunnel n (decrypted on xfrm interface swh<n>) writes n
//                      into its connection's mark, so the connection follows the tunnel it last came in
//                      on; any other packet of a connection's reply direction takes the mark back as its
//                      fwmark, and the rule `fwmark n lookup 2000+n` (plan.ts) sends it out of swh<n>.
//   output/route       the same restore for replies the hub itself sends (the STAMP reflector, services
//                      on the hub): a route chain makes the kernel route the packet again after the mark.
//   forward/filter     TCP MSS clamped to the route MTU for flows entering a tunnel.
// The restore writes the whole fwmark (`meta mark set ct mark & mask`): nft 1.0 cannot OR a register
// into another (the right side of `|` must be constant), so other owners' fwmark bits are not kept on
// reply packets; the ct mark keeps theirs, since only our bits are rewritten there.
import { hex32, outside } from '../dataplane/marks.js'
import { HUB_LINK_PREFIX, HUB_MARK_MASK, HUB_NFT_TABLE } from './ownership.js'

export function hubNftRuleset(tunnels: ReadonlyArray<{ device: string; id: number }>): string {
  const mask = hex32(HUB_MARK_MASK)
  const keep = hex32(outside(HUB_MARK_MASK))
  const sorted = [...tunnels].sort((a, b) => a.id - b.id)
  const out = [`table inet ${HUB_NFT_TABLE} {`]
  out.push('  chain prerouting {', '    type filter hook prerouting priority mangle; policy accept;')
  if (sorted.length > 0) out.push(`    iifname vmap { ${sorted.map(t => `${JSON.stringify(t.device)} : goto from_${t.id}`).join(', ')} }`)
  out.push(`    ct direction reply ct mark & ${mask} != 0 meta mark set ct mark & ${mask}`, '  }')
  for (const t of sorted) out.push(`  chain from_${t.id} {`, `    ct mark set ct mark & ${keep} | ${hex32(t.id)}`, '  }')
  out.push('  chain output {', '    type route hook output priority mangle; policy accept;')
  out.push(`    ct direction reply ct mark & ${mask} != 0 meta mark set ct mark & ${mask}`, '  }')
  out.push('  chain forward {', '    type filter hook forward priority mangle; policy accept;')
  out.push(`    oifname "${HUB_LINK_PREFIX}*" tcp flags syn tcp option maxseg size set rt mtu`, '  }')
  out.push('}')
  return out.join('\n') + '\n'
}
