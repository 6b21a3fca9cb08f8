// Runs inside the lab VM (Debian's 6.1 kernel: esp4, xfrm_user, xfrm_interface, ip_gre): the IPsec tunnels
// on kernel ESP, end to end.
//   1. xfrm-interface: one xfrm interface's life through XfrmInterfaces (xfrm-interface-child.ts).
//   2. The retail branch (startBranch) with the real edge daemon left on `--ipsec-backend auto` against the
//      lab hub's libipsec responders (ESP in UDP on both sides interoperates):
//      ipsec-kernel-backend      auto chose kernel; sw-dc1-bb and sw-dc1-lte are xfrm interfaces with their
//                                if_ids, at the stack's MTU (no libipsec cap);
//      ipsec-class-via-xfrm      POS (paths [dc1-bb, dc1-lte]) reaches the DC through sw-dc1-bb;
//      ipsec-esp-only            at the bb and lte providers only ESP in UDP, nothing to or from the DC or
//                                tunnel-inner prefixes in the clear;
//      ipsec-failover            a bb blackout moves POS to dc1-lte, whose xfrm interface then carries it;
//      ipsec-no-cleartext-down   across the blackout and the tunnel going down, still nothing in the clear.
//   3. gre-over-ipsec (gre-ipsec.ts): gre-ipsec-traffic, gre-ipsec-esp-only, gre-ipsec-no-cleartext-down.
// Prints LAB-CHECK lines (scenario-checks.ts) and exits 1 if a check failed.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StatusReport } from '../../../../edge/daemon/status.js'
import { startBranch, type Branch, type Sink } from '../../branch.js'
import { spawnCommandRunner } from '../../command-runner.js'
import { namespacesWithPrefix } from '../../lab-network.js'
import { LAB_POS_PORT } from '../../lab-policy.js'
import { spawnLongRunning, type LongRunningProcess, type SpawnLongRunning } from '../../long-running-process.js'
import { checkReporter } from '../scenario-checks.js'
import { greOverIpsecStory } from './gre-ipsec.js'
import { linkCounters } from '../../link-counters.js'
import { installWireCounters, readWireCounters, type WireCounters } from './wire-counters.js'
import { checkXfrmLifecycle, type XfrmChildResult } from './xfrm-lifecycle.js'
import { warmModuleCache } from './module-cache.js'
import { pollStatus } from './poll-status.js'

const PREFIX = 'vmx-'
/** Everything POS and the tunnels' probes carry: never on the internet uplinks' wire unencrypted. */
const PROTECTED = ['10.20.0.0/16', '10.255.0.0/24']
const POS_INTERVAL_MS = 50
const WINDOW_MS = 3000
// As in daemon-voip.ts: TCG makes a node process start in ~15 s (and this boot's daemon starts two charons
// before it answers), so the branch's own deadlines run on a clock TCG_SLOWDOWN times slower; what this
// file measures uses Date.now().
const TCG_SLOWDOWN = 8
const run = spawnCommandRunner()
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const checks = checkReporter()
const report = checks.report
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))
/** The daemon's start-up, on the console as it happens: startBranch keeps its output only once it answers. */
const STARTUP_LINES = 40
const spawnWatched: SpawnLongRunning = argv => {
  const p = spawnLongRunning(argv)
  if (argv.includes('run')) {
    let shown = 0
    const show = (text: string): void => {
      for (const line of text.split('\n').filter(l => l.trim() !== '')) if (shown++ < STARTUP_LINES) console.log(`daemon| ${line.slice(0, 300)}`)
    }
    p.onStdout(show)
    p.onStderr(show)
  }
  return p
}

async function xfrmLifecycle(): Promise<void> {
  const ns = `${PREFIX}xfrm`
  const child = fileURLToPath(new URL('./xfrm-interface-child.ts', import.meta.url))
  try {
    await run({ argv: ['ip', 'netns', 'add', ns] })
    const out = await run({ argv: ['ip', 'netns', 'exec', ns, process.execPath, '--import', 'tsx', child] })
    const result = JSON.parse(out.stdout) as XfrmChildResult
    if ('missing' in result) return report('xfrm-interface', false, result.missing)
    const problems = checkXfrmLifecycle(result)
    report('xfrm-interface', problems.length === 0, problems.length === 0 ? 'created, kept, changed in place, replaced for a new if_id and underlay, refused over another kind, removed twice' : problems.join('; '))
  } catch (err) {
    report('xfrm-interface', false, message(err))
  } finally {
    await run({ argv: ['ip', 'netns', 'del', ns] })
  }
}


const pos = (s: StatusReport) => s.classes.find(c => c.name === 'pos')
const paths = (s: StatusReport) => s.paths.map(p => `${p.name} ${p.state}${p.state === 'up' ? '' : ` (${p.reason})`}`).join(', ')
const wireText = (name: string, w: WireCounters) => `${name}: ${w.espInUdp} ESP-in-UDP, ${w.espRaw} ESP, ${w.clear} cleartext to/from ${PROTECTED.join(' ')}, ${w.greClear} GRE`

/** POS datagrams the sink got, and what each tunnel device sent, over one window. */
async function window(branch: Branch, sink: Sink): Promise<{ arrived: number; bb: number; lte: number }> {
  const edge = branch.lab.topology.namespaces.edge
  const mark = sink.arrivals.length
  const [bb0, lte0] = await Promise.all([linkCounters(run, edge, 'sw-dc1-bb'), linkCounters(run, edge, 'sw-dc1-lte')])
  await sleep(WINDOW_MS)
  const [bb1, lte1] = await Promise.all([linkCounters(run, edge, 'sw-dc1-bb'), linkCounters(run, edge, 'sw-dc1-lte')])
  return { arrived: sink.arrivals.length - mark, bb: bb1.txPackets - bb0.txPackets, lte: lte1.txPackets - lte0.txPackets }
}

async function daemonStory(branch: Branch, flows: LongRunningProcess[]): Promise<void> {
  const { namespaces, addresses } = branch.lab.topology
  const ready = await pollStatus(() => branch.status(), s => pos(s)?.active[0] === 'dc1-bb' && ['dc1-bb', 'dc1-lte'].every(n => s.paths.find(p => p.name === n)?.state === 'up'), 180_000)
  const [bbLink, lteLink] = await Promise.all([linkCounters(run, namespaces.edge, 'sw-dc1-bb'), linkCounters(run, namespaces.edge, 'sw-dc1-lte')])
  const mtus = await run({ argv: ['ip', '-n', namespaces.edge, '-o', 'link', 'show', 'type', 'xfrm'] })
  const xfrmMtus = [...mtus.stdout.matchAll(/: (sw-[\w-]+)(?:@\S+)?: .* mtu (\d+)/g)].map(m => `${m[1]} mtu ${m[2]}`)
  report(
    'ipsec-kernel-backend',
    ready.met && ready.last.ipsec?.backend === 'kernel' && bbLink.kind === 'xfrm' && lteLink.kind === 'xfrm' && bbLink.ifId !== lteLink.ifId && xfrmMtus.length === 2 && xfrmMtus.every(m => m.endsWith('mtu 1435')),
    `status: IPsec backend ${ready.last.ipsec?.backend ?? 'not reported'} (${ready.last.ipsec?.reason ?? '-'}); POS on ${pos(ready.last)?.active.join('+') || 'nothing'}; ` +
      `sw-dc1-bb ${bbLink.kind ?? '?'} if_id ${bbLink.ifId ?? '-'}, sw-dc1-lte ${lteLink.kind ?? '?'} if_id ${lteLink.ifId ?? '-'}; ${xfrmMtus.join(', ') || 'no xfrm links'}; paths: ${paths(ready.last)}`,
  )
  await installWireCounters(run, namespaces.bb, PROTECTED, branch.lab.topology.uplinks.bb.providerIfname)
  await installWireCounters(run, namespaces.lte, PROTECTED, branch.lab.topology.uplinks.lte.providerIfname)
  const sink = await branch.startSink('hub', addresses.hubService, LAB_POS_PORT)
  flows.push(branch.startFlow('pos', addresses.hubService, LAB_POS_PORT, 41_000, POS_INTERVAL_MS, 'POS'))
  await sink.waitFor(a => a.payload.startsWith('POS '), 30_000, 'POS at the DC')
  const onBb = await window(branch, sink)
  report(
    'ipsec-class-via-xfrm',
    onBb.arrived >= 10 && onBb.bb >= onBb.arrived && onBb.lte < onBb.arrived,
    `in ${WINDOW_MS} ms ${onBb.arrived} POS datagrams reached ${addresses.hubService}; sw-dc1-bb sent ${onBb.bb} packets, sw-dc1-lte ${onBb.lte} (its probes only)`,
  )
  const [bbWire, lteWire] = await Promise.all([readWireCounters(run, namespaces.bb), readWireCounters(run, namespaces.lte)])
  report(
    'ipsec-esp-only',
    bbWire.espInUdp >= onBb.arrived && bbWire.clear === 0 && lteWire.clear === 0 && bbWire.greClear + lteWire.greClear === 0,
    `${wireText('bb', bbWire)}; ${wireText('lte', lteWire)}`,
  )

  const blackoutAt = Date.now()
  await branch.lab.impair('bb', { kind: 'blackout' })
  const moved = await pollStatus(() => branch.status(), s => pos(s)?.active[0] === 'dc1-lte', 60_000)
  const movedMs = Date.now() - blackoutAt
  const down = await pollStatus(() => branch.status(), s => s.paths.find(p => p.name === 'dc1-bb')?.state === 'down', 30_000)
  const onLte = await window(branch, sink)
  report(
    'ipsec-failover',
    moved.met && onLte.arrived >= 10 && onLte.lte >= onLte.arrived,
    `bb blackout: POS on ${pos(moved.last)?.active.join('+') || 'nothing'} after ${movedMs} ms (${pos(moved.last)?.reason ?? '-'}); then in ${WINDOW_MS} ms ${onLte.arrived} POS datagrams arrived, sw-dc1-lte sent ${onLte.lte}, sw-dc1-bb ${onLte.bb}`,
  )
  const bbStill = await linkCounters(run, namespaces.edge, 'sw-dc1-bb').catch(() => undefined)
  const [bbAfter, lteAfter] = await Promise.all([readWireCounters(run, namespaces.bb), readWireCounters(run, namespaces.lte)])
  report(
    'ipsec-no-cleartext-down',
    down.met && bbAfter.clear === 0 && lteAfter.clear === 0 && bbAfter.greClear + lteAfter.greClear === 0,
    `dc1-bb ${down.met ? 'down' : 'not reported down'} (${down.last.paths.find(p => p.name === 'dc1-bb')?.reason ?? '-'}), sw-dc1-bb ${bbStill ? `kept (${bbStill.kind})` : 'gone'}; since the counters went in: ${wireText('bb', bbAfter)}; ${wireText('lte', lteAfter)}`,
  )
  await branch.lab.restore('bb')
}


const workDir = await mkdtemp(join(tmpdir(), 'sdwan-vm-ipsec-'))
const flows: LongRunningProcess[] = []
let branch: Branch | undefined
try {
  await xfrmLifecycle()
  await warmModuleCache(run)
  try {
    branch = await startBranch(
      { prefix: PREFIX, workDir: join(workDir, 'branch'), logLevel: 'info', policy: { intervalMs: 100, failover: { holdDownMs: 1000, failbackDelayMs: 3000, brownoutConfirmMs: 1500 } } },
      { run, spawn: spawnWatched, sleep, now: () => Date.now() / TCG_SLOWDOWN },
    )
    await daemonStory(branch, flows)
  } catch (err) {
    report('ipsec-daemon-scenario', false, message(err))
  }
  if (checks.failed && branch) console.log(`daemon log, last lines:\n${branch.daemonLog.slice(-30).join('\n')}\nhub log:\n${branch.hubLog.slice(-20).join('\n')}`)
  for (const p of flows) p.kill('SIGTERM')
  await branch?.stop()
  await greOverIpsecStory(run, spawnLongRunning, workDir, randomBytes(24).toString('base64url'), report)
} finally {
  const left = namespacesWithPrefix((await run({ argv: ['ip', 'netns', 'list'] })).stdout, PREFIX)
  const gix = namespacesWithPrefix((await run({ argv: ['ip', 'netns', 'list'] })).stdout, 'gix-')
  report('ipsec-teardown', left.length + gix.length === 0, left.length + gix.length === 0 ? 'no scenario namespace left' : `left behind: ${[...left, ...gix].join(' ')}`)
  await rm(workDir, { recursive: true, force: true })
}
process.exit(checks.failed ? 1 : 0)
