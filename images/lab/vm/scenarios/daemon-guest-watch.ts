// Proof that guest traffic never enters a tunnel: an nftables table of the scenario's own in the lab's
// edge namespace counts what the edge forwards from the guest bridge, and how much of it leaves through
// a tunnel device. The forward hook sees the routing decision's output device for every forwarded
// packet, whichever table or mark chose it, and the source before masquerade (that is postrouting), so
// the count does not depend on how the daemon steers — only on where packets really went.
// The table is separate from the daemon's (it owns `sdwan`) and from the lab's NAT table.
import { runChecked, type CommandRunner } from '../../command-runner.js'
import { tunnelDevice } from '../../../../edge/dataplane/layout.js'

export const GUEST_WATCH_TABLE = 'lab_guest_watch'
/** Every tunnel device the daemon makes starts with this (edge/dataplane/layout.ts). */
export const TUNNEL_DEVICE_PREFIX = tunnelDevice('')

export interface GuestWatchCounts {
  /** Packets from the guest bridge the edge forwarded anywhere. */
  readonly forwarded: number
  /** Of those, packets that left through a tunnel device. */
  readonly tunnelled: number
}

/** The table, as an `nft -f` script. Priority -300 runs before any filter that might drop. */
export function guestWatchRuleset(guestBridge: string): string {
  return [
    `table inet ${GUEST_WATCH_TABLE} {`,
    '  counter guest_forwarded { }',
    '  counter guest_tunnelled { }',
    '  chain forward {',
    '    type filter hook forward priority -300; policy accept;',
    `    iifname "${guestBridge}" counter name "guest_forwarded"`,
    `    iifname "${guestBridge}" oifname "${TUNNEL_DEVICE_PREFIX}*" counter name "guest_tunnelled"`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** Parses `nft -j list counters table inet lab_guest_watch`. */
export function parseGuestWatch(json: string): GuestWatchCounts {
  const items = (JSON.parse(json) as { nftables?: Array<{ counter?: { name: string; packets: number } }> }).nftables ?? []
  const packets = (name: string): number => {
    const counter = items.find(item => item.counter?.name === name)?.counter
    if (counter === undefined) throw new Error(`nft table ${GUEST_WATCH_TABLE} has no counter "${name}"`)
    return counter.packets
  }
  return { forwarded: packets('guest_forwarded'), tunnelled: packets('guest_tunnelled') }
}

/** Tunnel device names in `ip -o link show` output ("7: sw-dc1-bb: <…" or "7: sw-x@NONE: <…"). */
export function tunnelDevices(ipOLink: string): string[] {
  return ipOLink
    .split('\n')
    .map(line => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name.startsWith(TUNNEL_DEVICE_PREFIX))
}

export interface GuestWatch {
  read(): Promise<GuestWatchCounts>
  tunnelDevices(): Promise<string[]>
}

/** Installs the table in `namespace` (the lab's edge) through the injected runner. */
export async function installGuestWatch(run: CommandRunner, namespace: string, guestBridge: string): Promise<GuestWatch> {
  const inEdge = (argv: string[], input?: string) =>
    runChecked(run, { argv: ['ip', 'netns', 'exec', namespace, ...argv], ...(input === undefined ? {} : { input }) })
  await inEdge(['nft', '-f', '-'], guestWatchRuleset(guestBridge))
  return {
    read: async () => parseGuestWatch((await inEdge(['nft', '-j', 'list', 'counters', 'table', 'inet', GUEST_WATCH_TABLE])).stdout),
    tunnelDevices: async () => tunnelDevices((await runChecked(run, { argv: ['ip', '-n', namespace, '-o', 'link', 'show'] })).stdout),
  }
}
