// The hub's end of the lab's plain GRE tunnel (lab-policy.ts LAB_GRE_TUNNEL) across the MPLS underlay:
// test infrastructure standing in for a data-centre router. A GRE link in the hub namespace with the
// edge's key, the hub's inner address on it, and a STAMP reflector on that address, so the edge's probes
// for the tunnel path really cross the tunnel. Needs a kernel with ip_gre (the VM lab).
// Replies to the branch leave by the hub's MPLS route (the DC routes the branch's LANs over MPLS), so the
// tunnel's receive counter counts exactly what the edge sent into it.
//
// startHubGre resolves only once the reflector says it is listening, and fails with the reflector's exit
// status and output if it never does: a reflector that is not there looks, from the edge, exactly like a
// dead tunnel (the hub's kernel answers each probe with an ICMP port unreachable, rate-limited to one a
// second per peer by net.ipv4.icmp_ratelimit), and a scenario that cannot tell the two apart blames the
// tunnel. diagnose() says which it is when the path still does not come up.
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { runChecked, type CommandRunner } from './command-runner.js'
import { LAB_GRE_TUNNEL } from './lab-policy.js'
import { linkCounters, type LinkCounters } from './link-counters.js'
import { lineSplitter, type LongRunningProcess, type SpawnLongRunning } from './long-running-process.js'
import type { Topology } from './topology.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const TSX = import.meta.resolve('tsx')
const CLI = join(REPO, 'edge/cli/bin.ts')

/** The hub's GRE device (not `sw-`: that prefix is the edge daemon's). */
export const HUB_GRE_DEVICE = 'gre-edge'
/** The STAMP port the hub's reflector answers on (the lab policy's hub has the default reflectorPort). */
export const HUB_GRE_REFLECTOR_PORT = 862
/** What `sdwan-edge reflect` prints once its socket is bound (edge/cli/commands/reflect.ts). */
export const REFLECTOR_LISTENING = /^reflecting STAMP on /
/**
 * How long the reflector may take to bind. A node process under tsx starts in ~10 s in the lab VM and took
 * up to 48 s with the host's two cores busy; past this it is not slow but stuck.
 */
export const REFLECTOR_START_TIMEOUT_MS = 180_000
const OUTPUT_LINES_KEPT = 20

export interface HubGre {
  /** The hub GRE device's counters, as the kernel keeps them. */
  counters(): Promise<LinkCounters>
  /**
   * One line on whether the hub's end can answer: the reflector's state and last output, what listens on
   * the STAMP port, the kernel's count of datagrams that found no socket and of the port unreachables it
   * sent, the device the hub routes replies to the edge's inner address by, and the device's counters.
   */
  diagnose(): Promise<string>
  stop(): Promise<void>
}

export class HubGreError extends Error {
  override readonly name = 'HubGreError'
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

/** The counters of `nstat -asz` output (absolute values, history untouched) named in `names`. Pure. */
export function parseNstat(text: string, names: readonly string[]): Record<string, number | undefined> {
  const found = new Map<string, number>()
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/)
    if (name !== undefined && value !== undefined && /^\d+$/.test(value)) found.set(name, Number(value))
  }
  return Object.fromEntries(names.map(n => [n, found.get(n)]))
}

/** The reflector's life as the lab saw it: running or how it ended, and its last lines of output. */
interface ReflectorWatch {
  readonly lines: string[]
  listeningAfterMs: number | undefined
  /** "exited 1", "killed by a signal", or "could not start: …" once it has ended. */
  ended: string | undefined
}

/**
 * Where a process's threads wait, as `ps -L` reports state and kernel wait channel, counted: a start-up
 * stuck in the kernel (e.g. "D p9_client_rpc", a read of the 9p-shared repo) looks different from one
 * still busy in JavaScript ("R -") or waiting on itself ("S futex_wait_queue"). Pure.
 */
export function summariseThreads(psOutput: string): string {
  const counts = new Map<string, number>()
  for (const line of psOutput.split('\n')) {
    const [stat, wchan] = line.trim().split(/\s+/)
    if (stat === undefined || stat === '') continue
    const key = `${stat} ${wchan ?? '-'}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([key, n]) => `${n}× ${key}`).join(', ')
}

async function describeReflector(w: ReflectorWatch, pid: number | undefined, run: CommandRunner): Promise<string> {
  let state: string
  if (w.ended !== undefined) state = `ended (${w.ended})`
  else if (w.listeningAfterMs !== undefined) state = `running, listening ${(w.listeningAfterMs / 1000).toFixed(1)} s after it was started`
  else {
    const threads = pid === undefined ? '' : summariseThreads((await run({ argv: ['ps', '-L', '-o', 'stat=,wchan:40=', '-p', String(pid)] })).stdout)
    state = `running, not listening yet${threads ? ` (threads: ${threads})` : ''}`
  }
  return `reflector (pid ${pid ?? '?'}) ${state}; its output: ${w.lines.length === 0 ? 'none' : w.lines.join(' | ')}`
}

export interface HubGreDeps {
  run: CommandRunner
  spawn: SpawnLongRunning
  sleep(ms: number): Promise<void>
}

export async function startHubGre(topology: Topology, { run, spawn, sleep }: HubGreDeps, startTimeoutMs = REFLECTOR_START_TIMEOUT_MS): Promise<HubGre> {
  const ns = topology.namespaces.hub
  const hubInner = LAB_GRE_TUNNEL.hubInner
  const edgeInner = LAB_GRE_TUNNEL.edgeInner.split('/')[0]!
  for (const argv of hubGreCommands(topology)) await runChecked(run, { argv: ['ip', '-n', ns, ...argv] })
  // The edge's inner packets come from the branch LANs, which the hub routes over MPLS, not this device:
  // loose reverse-path filtering accepts them whatever the namespace's default.
  await runChecked(run, { argv: ['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${HUB_GRE_DEVICE}.rp_filter=2`] })
  const startedAt = Date.now()
  const reflector: LongRunningProcess = spawn([
    'ip', 'netns', 'exec', ns, process.execPath, '--import', TSX, CLI, 'reflect', '--address', hubInner, '--port', String(HUB_GRE_REFLECTOR_PORT), '--rate', '1000',
  ])
  const watch: ReflectorWatch = { lines: [], listeningAfterMs: undefined, ended: undefined }
  const keep = (stream: string) =>
    lineSplitter(line => {
      if (watch.listeningAfterMs === undefined && REFLECTOR_LISTENING.test(line)) watch.listeningAfterMs = Date.now() - startedAt
      watch.lines.push(`${stream}: ${line}`)
      watch.lines.splice(0, Math.max(0, watch.lines.length - OUTPUT_LINES_KEPT))
    })
  reflector.onStdout(keep('out'))
  reflector.onStderr(keep('err'))
  const ended = reflector.exited.then(
    code => void (watch.ended = code === null ? 'killed by a signal' : `exited ${code}`),
    (err: unknown) => void (watch.ended = `could not start: ${err instanceof Error ? err.message : String(err)}`),
  )
  const stop = async (): Promise<void> => {
    reflector.kill('SIGTERM')
    await Promise.race([ended, sleep(5000)])
    reflector.kill('SIGKILL')
    await run({ argv: ['ip', '-n', ns, 'link', 'del', HUB_GRE_DEVICE] })
  }
  while (watch.listeningAfterMs === undefined && watch.ended === undefined && Date.now() - startedAt < startTimeoutMs) await sleep(100)
  if (watch.listeningAfterMs === undefined) {
    const problem = await describeReflector(watch, reflector.pid, run)
    await stop()
    throw new HubGreError(
      `the hub's STAMP reflector on ${hubInner}:${HUB_GRE_REFLECTOR_PORT} never listened (${Math.round((Date.now() - startedAt) / 1000)} s): ${problem}`,
    )
  }
  const inHub = (...argv: string[]) => run({ argv: ['ip', 'netns', 'exec', ns, ...argv] })
  return {
    counters: () => linkCounters(run, ns, HUB_GRE_DEVICE),
    async diagnose() {
      const listening = (await inHub('ss', '-Hunl', `sport = :${HUB_GRE_REFLECTOR_PORT}`)).stdout.split('\n').map(l => l.trim().split(/\s+/)[3]).filter(Boolean)
      const mib = parseNstat((await inHub('nstat', '-asz', 'UdpNoPorts', 'IcmpOutDestUnreachs')).stdout, ['UdpNoPorts', 'IcmpOutDestUnreachs'])
      const route = (await inHub('ip', 'route', 'get', edgeInner, 'from', hubInner)).stdout.trim().split('\n')[0] ?? ''
      const device = await linkCounters(run, ns, HUB_GRE_DEVICE).catch((err: unknown) => (err instanceof Error ? err.message : String(err)))
      return [
        await describeReflector(watch, reflector.pid, run),
        `UDP sockets on port ${HUB_GRE_REFLECTOR_PORT} in ${ns}: ${listening.join(', ') || 'none'}`,
        `datagrams that found no socket (UdpNoPorts) ${mib.UdpNoPorts ?? '?'}, ICMP unreachables sent ${mib.IcmpOutDestUnreachs ?? '?'}`,
        `replies to ${edgeInner} route: ${route || 'none'}`,
        typeof device === 'string' ? `${HUB_GRE_DEVICE}: ${device}` : `${HUB_GRE_DEVICE} received ${device.rxPackets}, sent ${device.txPackets}`,
      ].join('; ')
    },
    stop,
  }
}
