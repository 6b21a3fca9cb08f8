// Runs inside the lab VM (ip_gre): the retail branch with the real edge daemon on the lab policy with ERP
// over the plain GRE tunnel dc1-gre across MPLS (lab-policy.ts erpOverGre; fail closed), the hub's GRE
// end (hub-gre.ts), then —
//   1. the tunnel path comes up from probes that cross the tunnel (the hub's GRE device counts them);
//   2. an ERP flow from the store reaches the DC service through the tunnel: the edge forwards it into
//      sw-dc1-gre, the hub's GRE device receives it, and the MPLS provider forwards GRE (proto 47) and
//      never the ERP datagram itself;
//   3. MPLS blacks out → the probes through the tunnel stop → the daemon drops ERP (fail closed): no ERP
//      packet leaves the edge by any uplink in the clear;
//   4. MPLS restored → ERP back on dc1-gre and arriving again.
// Prints LAB-CHECK lines (scenario-checks.ts); exits 1 if a check failed. Times are the guest's clock.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BranchTimeout, startBranch, type Branch, type Sink } from '../../branch.js'
import { runChecked, spawnCommandRunner } from '../../command-runner.js'
import { startHubGre, type HubGre } from '../../hub-gre.js'
import { linkCounters, type LinkCounters } from '../../link-counters.js'
import { namespacesWithPrefix } from '../../lab-network.js'
import { LAB_GRE_TUNNEL } from '../../lab-policy.js'
import { spawnLongRunning, type LongRunningProcess } from '../../long-running-process.js'
import type { StatusReport } from '../../../../edge/daemon/status.js'
import { tunnelDevice } from '../../../../edge/dataplane/layout.js'
import { checkReporter } from '../scenario-checks.js'
import { classMoves, parseDecisionLog, type DecisionRecord } from './daemon-result.js'
import { greWatchRuleset, parseGreWatch, GRE_WATCH_TABLE, type GreWatchCounts } from './gre-watch.js'
import { warmModuleCache } from './module-cache.js'
import { pollStatus } from './poll-status.js'

const SETTINGS = { intervalMs: 100, holdDownMs: 1000, failbackDelayMs: 3000, brownoutConfirmMs: 1500 } as const
const ERP_PORT = 7100
const FLOW_INTERVAL_MS = 100
const PREFIX = 'vmg-'
const EDGE_DEVICE = tunnelDevice(LAB_GRE_TUNNEL.name)
// As in daemon-voip.ts, the branch's own deadlines run on a clock TCG_SLOWDOWN times slower; this scenario
// shares the host with whatever else runs (its first boot saw the daemon miss 4 × 20 s at load 5 on 2 cores).
const TCG_SLOWDOWN = 10
const within = (guestMs: number) => guestMs / TCG_SLOWDOWN

const run = spawnCommandRunner()
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
/** How long ERP must stay on the GRE tunnel once back: past the brownout confirmation and a hold-down. */
const STAYS_MS = 5000
const checks = checkReporter()
const report = checks.report
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))
const erp = (s: StatusReport) => s.classes.find(c => c.name === 'erp')!
const grePath = (s: StatusReport) => s.paths.find(p => p.name === LAB_GRE_TUNNEL.name)

const workDir = await mkdtemp(join(tmpdir(), 'sdwan-vm-gre-'))
const decisionFile = join(workDir, 'state/decisions.jsonl')
const readDecisions = async (): Promise<DecisionRecord[]> => parseDecisionLog(await readFile(decisionFile, 'utf8').catch(() => ''))


/** The first ERP re-steer logged at or after `afterMs` whose new paths satisfy `to`. */
async function waitForErp(to: (paths: readonly string[]) => boolean, afterMs: number, timeoutMs: number): Promise<DecisionRecord | null> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const hit = (await readDecisions()).find(r => r.class === 'erp' && to(r.to) && Date.parse(r.time) >= afterMs)
    if (hit) return hit
    await sleep(250)
  }
  return null
}

interface Watches {
  read(): Promise<{ edge: GreWatchCounts; mpls: GreWatchCounts; bb: GreWatchCounts; lte: GreWatchCounts }>
  edgeDevice(): Promise<LinkCounters>
}

async function installWatches(branch: Branch): Promise<Watches> {
  const ns = branch.lab.topology.namespaces
  const service = branch.lab.topology.addresses.hubService
  const nodes = ['edge', 'mpls', 'bb', 'lte'] as const
  for (const node of nodes) await runChecked(run, { argv: ['ip', 'netns', 'exec', ns[node], 'nft', '-f', '-'], input: greWatchRuleset(service, ERP_PORT) })
  const readOne = async (node: (typeof nodes)[number]) =>
    parseGreWatch((await runChecked(run, { argv: ['ip', 'netns', 'exec', ns[node], 'nft', '-j', 'list', 'counters', 'table', 'inet', GRE_WATCH_TABLE] })).stdout)
  return {
    read: async () => ({ edge: await readOne('edge'), mpls: await readOne('mpls'), bb: await readOne('bb'), lte: await readOne('lte') }),
    edgeDevice: () => linkCounters(run, ns.edge, EDGE_DEVICE),
  }
}

const arrivalsOf = (sink: Sink, tag: string, from = 0) => sink.arrivals.slice(from).filter(a => a.payload.startsWith(`${tag} `))

async function story(branch: Branch, hub: HubGre, flows: LongRunningProcess[]): Promise<void> {
  const topo = branch.lab.topology
  const service = topo.addresses.hubService

  // Up, and within ERP's SLA (loss ≤ 2 %): the reflector behind the tunnel starts after the daemon, so the
  // window first holds the probes it missed.
  const settled = (s: StatusReport) => !s.warmingUp && grePath(s)?.state === 'up' && (grePath(s)?.lossPct ?? 100) <= 2 && erp(s).active[0] === LAB_GRE_TUNNEL.name
  const up = await pollStatus(() => branch.status(), settled, 180_000)
  const path = grePath(up.last)
  const probed = await hub.counters()
  const pathUp = up.met && path?.rttMs !== undefined && probed.rxPackets > 0 && probed.txPackets > 0
  // A path that never came up says where the probes or their replies stopped: the edge's tunnel device
  // (sent into it, anything back?) and the hub's end (reflector, socket, kernel counters, reply route).
  const edgeDevice = pathUp ? undefined : await linkCounters(run, topo.namespaces.edge, EDGE_DEVICE)
  const why = edgeDevice === undefined ? '' : `; ${EDGE_DEVICE} sent ${edgeDevice.txPackets} and received ${edgeDevice.rxPackets} packets; the hub's end: ${await hub.diagnose()}`
  report(
    'gre-daemon-path-up',
    pathUp,
    `${LAB_GRE_TUNNEL.name} ${path?.state ?? 'missing'} (${path?.reason ?? ''}), rtt ${path?.rttMs ?? '-'} ms, loss ${path?.lossPct ?? '-'} %; ERP on ${erp(up.last).active.join('+') || 'nothing'}; ` +
      `before any ERP traffic the hub's GRE device received ${probed.rxPackets} and sent ${probed.txPackets} packets: the probes and their replies${why}`,
  )

  const watch = await installWatches(branch)
  const sink = await branch.startSink('hub', service, ERP_PORT)
  const hubBefore = await hub.counters()
  const edgeBefore = await watch.edgeDevice()
  const first = branch.startFlow('pos', service, ERP_PORT, 30001, FLOW_INTERVAL_MS, 'ERP')
  flows.push(first)
  await sink.waitFor(a => a.payload.startsWith('ERP '), within(30_000), 'ERP at the DC service')
  await sleep(3000)
  // Stopped before counting: each read is a process under TCG, and a running flow would outpace them.
  first.kill('SIGTERM')
  await sleep(1000)
  const received = arrivalsOf(sink, 'ERP').length
  const counts = await watch.read()
  const hubAfter = await hub.counters()
  const edgeAfter = await watch.edgeDevice()
  const hubRx = hubAfter.rxPackets - hubBefore.rxPackets
  const edgeTx = edgeAfter.txPackets - edgeBefore.txPackets
  report(
    'gre-daemon-erp-through-tunnel',
    received > 0 && counts.edge.erpIntoTunnel >= received && hubRx >= received && edgeTx >= received && counts.edge.erpClear === 0,
    `${received} ERP datagrams at ${service}:${ERP_PORT}; the edge forwarded ${counts.edge.erpIntoTunnel} into ${EDGE_DEVICE} and ${counts.edge.erpClear} out of an uplink in the clear; ` +
      `${EDGE_DEVICE} sent ${edgeTx}, the hub's GRE device received ${hubRx} (ERP and probes)`,
  )
  report(
    'gre-daemon-mpls-wire-gre-only',
    counts.mpls.gre > 0 && counts.mpls.erpClear === 0 && counts.bb.erpClear === 0 && counts.lte.erpClear === 0,
    `MPLS provider forwarded ${counts.mpls.gre} GRE (proto 47) packets and ${counts.mpls.erpClear} bare ERP datagrams; broadband ${counts.bb.erpClear}, LTE ${counts.lte.erpClear} bare ERP datagrams`,
  )

  flows.push(branch.startFlow('pos', service, ERP_PORT, 30002, FLOW_INTERVAL_MS, 'ERPB'))
  await sink.waitFor(a => a.payload.startsWith('ERPB '), within(30_000), 'the second ERP flow at the DC service')
  const blackoutAt = Date.now()
  await branch.lab.impair('mpls', { kind: 'blackout' })
  const dropped = await waitForErp(to => to.length === 0, blackoutAt, 30_000)
  const atDrop = await watch.read()
  const markDrop = sink.arrivals.length
  await sleep(3000)
  const afterDrop = await watch.read()
  const leaked = afterDrop.edge.erpClear - atDrop.edge.erpClear
  const stillIn = afterDrop.edge.erpIntoTunnel - atDrop.edge.erpIntoTunnel
  report(
    'gre-daemon-blackout-drops-erp',
    dropped !== null && dropped.from[0] === LAB_GRE_TUNNEL.name && leaked === 0 && stillIn === 0 && afterDrop.edge.erpClear === 0,
    `MPLS blackout → ERP ${dropped === null ? 'never dropped' : `dropped ${Date.parse(dropped.time) - blackoutAt} ms later (${dropped.reason})`}; ` +
      `in the 3 s after: ${stillIn} ERP packets into ${EDGE_DEVICE}, ${leaked} out of an uplink in the clear, ${arrivalsOf(sink, 'ERPB', markDrop).length} at the DC`,
  )

  const restoredAt = Date.now()
  await branch.lab.restore('mpls')
  const back = await waitForErp(to => to[0] === LAB_GRE_TUNNEL.name, restoredAt, 60_000)
  const markBack = sink.arrivals.length
  const again = back === null ? null : await sink.waitFor(a => a.payload.startsWith('ERPB '), within(15_000), 'ERP at the DC again', markBack).catch(() => null)
  // Back means back: the blackout's lost probes must not make the returned path look lossy and take ERP
  // off it again (outages are left out of the loss figure).
  await sleep(STAYS_MS)
  const leftAgain = back === null ? [] : classMoves((await readDecisions()).filter(r => Date.parse(r.time) > Date.parse(back.time)), 'erp')
  report(
    'gre-daemon-recovers',
    back !== null && again !== null && leftAgain.length === 0,
    `MPLS restored → ERP ${back === null ? 'never back' : `back on ${LAB_GRE_TUNNEL.name} ${Date.parse(back.time) - restoredAt} ms later (${back.reason})`}; ` +
      `${again === null ? 'no ERP datagram' : 'ERP datagrams'} at the DC since; ` +
      `re-steers in the ${STAYS_MS / 1000} s after: ${leftAgain.join(', ') || 'none'}`,
  )

  const total = await watch.read()
  const moves = classMoves((await readDecisions()).filter(r => Date.parse(r.time) >= blackoutAt), 'erp')
  report(
    'gre-daemon-never-in-clear',
    total.edge.erpClear === 0 && total.mpls.erpClear === 0 && total.bb.erpClear === 0 && total.lte.erpClear === 0,
    `whole run: the edge forwarded ${total.edge.erpIntoTunnel} ERP packets into ${EDGE_DEVICE}, ${total.edge.erpClear} elsewhere; providers saw ${total.mpls.erpClear + total.bb.erpClear + total.lte.erpClear} bare ERP datagrams; ERP re-steers since the blackout: ${moves.join(', ') || 'none'}`,
  )
}


const flows: LongRunningProcess[] = []
let branch: Branch | undefined
let hub: HubGre | undefined
try {
  await warmModuleCache(run)
  branch = await startBranch(
    {
      prefix: PREFIX,
      workDir,
      logLevel: 'info',
      policy: { intervalMs: SETTINGS.intervalMs, erpOverGre: true, failover: { holdDownMs: SETTINGS.holdDownMs, failbackDelayMs: SETTINGS.failbackDelayMs, brownoutConfirmMs: SETTINGS.brownoutConfirmMs } },
    },
    { run, spawn: spawnLongRunning, sleep, now: () => Date.now() / TCG_SLOWDOWN },
  )
  hub = await startHubGre(branch.lab.topology, { run, spawn: spawnLongRunning, sleep })
  await story(branch, hub, flows)
} catch (err) {
  report('gre-daemon-scenario', false, err instanceof BranchTimeout ? `timed out: ${err.message}` : message(err))
} finally {
  if (checks.failed && branch) console.log(`daemon log, last lines:\n${branch.daemonLog.slice(-30).join('\n')}`)
  for (const p of flows) p.kill('SIGTERM')
  await hub?.stop().catch(() => undefined)
  await branch?.stop()
  const left = namespacesWithPrefix((await run({ argv: ['ip', 'netns', 'list'] })).stdout, PREFIX)
  report('gre-daemon-teardown', left.length === 0, left.length === 0 ? 'no lab namespace left' : `left behind: ${left.join(' ')}`)
  await rm(workDir, { recursive: true, force: true })
}
process.exit(checks.failed ? 1 : 0)
