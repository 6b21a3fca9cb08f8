// The hub's end of the lab's plain GRE tunnel (lab-policy.ts LAB_GRE_TUNNEL) across the MPLS underlay:
// test infrastructure standing in for a data-centre router. A GRE link in the hub namespace with the
// edge's key, the hub's inner address on it, and a STAMP reflector on that address, so the edge's probes
// for the tunnel path really cross the tunnel. Needs a kernel with ip_gre (the VM lab).
// Replies to the branch leave by the hub's MPLS route (the DC routes the branch's LANs over MPLS), so the
// tunnel's receive counter counts exactly what the edge sent into it.
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { runChecked, type CommandRunner } from './command-runner.js'
import { LAB_GRE_TUNNEL } from './lab-policy.js'
import { linkCounters, type LinkCounters } from './link-counters.js'
import type { LongRunningProcess, SpawnLongRunning } from './long-running-process.js'
import type { Topology } from './topology.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const TSX = import.meta.resolve('tsx')
const CLI = join(REPO, 'edge/cli/bin.ts')

/** The hub's GRE device (not `sw-`: that prefix is the edge daemon's). */
export const HUB_GRE_DEVICE = 'gre-edge'

export interface HubGre {
  /** The hub GRE device's counters, as the kernel keeps them. */
  counters(): Promise<LinkCounters>
  stop(): Promise<void>
}

/** `ip` commands (argv after `ip -n <hub>`) that build the hub's end. Pure. */
export function hubGreCommands(topology: Topology): string[][] {
  const g = LAB_GRE_TUNNEL
  const edge = topology.uplinks[g.uplink].address
  const hub = topology.addresses.hubMpls
  return [
    ['link', 'add', HUB_GRE_DEVICE, 'type', 'gre', 'local', hub, 'remote', edge, 'key', String(g.key), 'ttl', '64'],
    ['addr', 'add', `${g.hubInner}/30`, 'dev', HUB_GRE_DEVICE],
    ['link', 'set', HUB_GRE_DEVICE, 'up'],
  ]
}

export interface HubGreDeps {
  run: CommandRunner
  spawn: SpawnLongRunning
  sleep(ms: number): Promise<void>
}

export async function startHubGre(topology: Topology, { run, spawn, sleep }: HubGreDeps): Promise<HubGre> {
  const ns = topology.namespaces.hub
  for (const argv of hubGreCommands(topology)) await runChecked(run, { argv: ['ip', '-n', ns, ...argv] })
  // The edge's inner packets come from the branch LANs, which the hub routes over MPLS, not this device:
  // loose reverse-path filtering accepts them whatever the namespace's default.
  await runChecked(run, { argv: ['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${HUB_GRE_DEVICE}.rp_filter=2`] })
  const reflector: LongRunningProcess = spawn(['ip', 'netns', 'exec', ns, process.execPath, '--import', TSX, CLI, 'reflect', '--address', LAB_GRE_TUNNEL.hubInner, '--port', '862', '--rate', '1000'])
  return {
    counters: () => linkCounters(run, ns, HUB_GRE_DEVICE),
    stop: async () => {
      reflector.kill('SIGTERM')
      await Promise.race([reflector.exited.catch(() => null), sleep(5000)])
      reflector.kill('SIGKILL')
      await run({ argv: ['ip', '-n', ns, 'link', 'del', HUB_GRE_DEVICE] })
    },
  }
}
