// What crosses a provider, counted by nft in its forward hook (wire packets only: a router in the middle
// never sees what an endpoint decrypts): ESP in UDP (port 4500, first four payload bytes non-zero, RFC 3948
// §2.2: zero is the non-ESP marker of IKE), plain ESP, GRE in the clear, and any packet to or from the
// prefixes that must only ever travel encrypted. Used by the VM lab's IPsec scenarios.
import { runChecked, type CommandRunner } from '../../command-runner.js'

export const WIRE_TABLE = 'wire'

export interface WireCounters {
  readonly espInUdp: number
  readonly espRaw: number
  /** GRE in the clear, either way, and the part of it the edge sent. */
  readonly greClear: number
  readonly greFromEdge: number
  /** Packets to or from the protected prefixes, unencrypted. */
  readonly clear: number
}

const COUNTERS = { espInUdp: 'esp_udp', espRaw: 'esp_raw', greClear: 'gre_clear', greFromEdge: 'gre_from_edge', clear: 'clear' } as const

/** `edgeSide`: the provider's interface towards the edge, which tells what the edge sent. */
export function wireRuleset(protectedPrefixes: readonly string[], edgeSide: string): string {
  if (protectedPrefixes.length === 0) throw new RangeError('wireRuleset: name at least one protected prefix')
  const set = `{ ${protectedPrefixes.join(', ')} }`
  return [
    `table inet ${WIRE_TABLE} {`,
    ...Object.values(COUNTERS).map(c => `  counter ${c} {}`),
    '  chain forward_count {',
    // Before any impairment chain (filter priority 0): what the edge sends is counted even when dropped.
    '    type filter hook forward priority -10; policy accept;',
    '    udp dport 4500 @th,64,32 != 0 counter name esp_udp',
    '    udp sport 4500 @th,64,32 != 0 counter name esp_udp',
    '    meta l4proto esp counter name esp_raw',
    `    iifname "${edgeSide}" meta l4proto gre counter name gre_from_edge`,
    '    meta l4proto gre counter name gre_clear',
    `    ip daddr ${set} counter name clear`,
    `    ip saddr ${set} counter name clear`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** `nft -j list counters table inet wire` → the counts. Pure. */
export function parseWireCounters(json: string): WireCounters {
  const items = (JSON.parse(json) as { nftables?: Array<{ counter?: { name: string; packets: number } }> }).nftables ?? []
  const packets = (name: string): number => {
    const counter = items.find(i => i.counter?.name === name)?.counter
    if (counter === undefined) throw new Error(`nft has no counter "${name}" in table inet ${WIRE_TABLE}`)
    return counter.packets
  }
  return {
    espInUdp: packets(COUNTERS.espInUdp),
    espRaw: packets(COUNTERS.espRaw),
    greClear: packets(COUNTERS.greClear),
    greFromEdge: packets(COUNTERS.greFromEdge),
    clear: packets(COUNTERS.clear),
  }
}

/** What was counted between two readings. Pure. */
export function wireDelta(from: WireCounters, to: WireCounters): WireCounters {
  return {
    espInUdp: to.espInUdp - from.espInUdp,
    espRaw: to.espRaw - from.espRaw,
    greClear: to.greClear - from.greClear,
    greFromEdge: to.greFromEdge - from.greFromEdge,
    clear: to.clear - from.clear,
  }
}

export async function installWireCounters(run: CommandRunner, netns: string, protectedPrefixes: readonly string[], edgeSide: string): Promise<void> {
  await runChecked(run, { argv: ['ip', 'netns', 'exec', netns, 'nft', '-f', '-'], input: wireRuleset(protectedPrefixes, edgeSide) })
}

export async function readWireCounters(run: CommandRunner, netns: string): Promise<WireCounters> {
  const result = await runChecked(run, { argv: ['ip', 'netns', 'exec', netns, 'nft', '-j', 'list', 'counters', 'table', 'inet', WIRE_TABLE] })
  return parseWireCounters(result.stdout)
}
