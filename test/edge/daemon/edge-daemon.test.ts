// The daemon loop with every side effect faked: the kernel's facts and link events, the reconciler,
// the probe engine and the clocks. What it must do: program the plan at start, move classes at once
// on carrier loss, and re-apply when an uplink's facts change even if no decision moves.
import t from 'tap'
import { EdgeDaemon, type DaemonDeps, type ProbePort } from '../../../edge/daemon/edge-daemon.js'
import type { DesiredState } from '../../../edge/dataplane/model.js'
import type { KernelEvent, KernelFacts } from '../../../edge/dataplane/ports.js'
import type { PathMetrics } from '../../../probes/metrics/path-metrics.js'
import { metrics, threeUplinks } from '../../helpers/steering.js'

const policy = threeUplinks(`  - name: pos
    match: [{ segments: [lan] }]
    paths: [a, b]`)

function kernelFacts(aUp: boolean): KernelFacts {
  const link = (name: string, up: boolean) => ({ name, index: 1, up, carrier: up, mtu: 1500 })
  return {
    links: [link('eth1', aUp), link('eth2', true), link('eth3', true)],
    addresses: [
      ...(aUp ? [{ link: 'eth1', family: 4 as const, address: '192.0.2.2/24' }] : []),
      { link: 'eth2', family: 4, address: '198.51.100.2/24' },
      { link: 'eth3', family: 4, address: '172.20.1.2/24' },
    ],
    defaultRoutes: [
      ...(aUp ? [{ link: 'eth1', family: 4 as const, gateway: '192.0.2.1' }] : []),
      { link: 'eth2', family: 4, gateway: '198.51.100.1' },
    ],
  }
}

function harness() {
  let now = 0
  let aUp = true
  let listener: (e: KernelEvent) => void = () => undefined
  const applied: DesiredState[] = []
  const latest = new Map<string, PathMetrics>()
  const probes: ProbePort = { update: () => undefined, latest: p => latest.get(p), stop: async () => undefined }
  const ticks: number[] = []
  let tick = () => undefined as void
  let snapshotsArrived = () => undefined as void
  const deps: DaemonDeps = {
    now: () => now,
    wallNow: () => 1_700_000_000_000 + now,
    timers: { setInterval: (fn, ms) => ((tick = fn), ticks.push(ms)), clearInterval: () => undefined },
    kernel: { facts: async () => kernelFacts(aUp), watch: l => ((listener = l), () => undefined) },
    reconciler: {
      set: async want => {
        applied.push(want!)
        return { ops: [], failed: [], reached: { rules: [], routes: [], greLinks: [], vxlanLinks: [], nftDigest: null } }
      },
    },
    startProbes: (_targets, onSnapshots) => ((snapshotsArrived = onSnapshots), probes),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  }
  const answering = (...paths: string[]) => {
    for (const p of paths) latest.set(p, { ...metrics({ rtt: 10 }, now), lastReplyAt: now })
  }
  /** The path's probes have gone unanswered since `since`. */
  const silent = (path: string, since: number) => {
    latest.set(path, { ...metrics({ rtt: 10 }, now), firstSentAt: since, lastReplyAt: null, rtt: null, consecutiveReplies: 0, consecutiveMisses: 40 })
  }
  return {
    deps,
    applied,
    answering,
    silent,
    ticks,
    tick: () => tick(),
    snapshots: () => snapshotsArrived(),
    advance: (ms: number) => (now += ms),
    setLink: (up: boolean) => {
      aUp = up
      listener({ kind: 'link-changed', link: 'eth1' })
    },
  }
}

/** A started daemon, 5 s in, every path answering its probes. */
async function runningWithEveryPathAnswering() {
  const h = harness()
  const daemon = new EdgeDaemon(policy, h.deps)
  await daemon.start()
  h.advance(5000)
  h.answering('a', 'b', 'c')
  await daemon.evaluate()
  return { h, daemon }
}

const posTable = (d: DesiredState) => d.rules.find(r => r.comment.startsWith('new pos flows take'))!.table
const hasDefaultVia = (d: DesiredState, gw: string) => d.routes.some(r => r.gateway === gw)

t.test('start programs the plan: every class on its first path', async t => {
  const h = harness()
  const daemon = new EdgeDaemon(policy, h.deps)
  await daemon.start()
  t.equal(h.applied.length, 1)
  t.equal(posTable(h.applied[0]!), 1001, 'pos → table of path a')
  t.ok(hasDefaultVia(h.applied[0]!, '192.0.2.1'), 'a has its default route via the DHCP gateway')
})

t.test('a batch of probe snapshots is a steering round; the tick is only a slow fallback', async t => {
  const { h } = await runningWithEveryPathAnswering()
  t.same(h.ticks, [300], 'the fallback tick: downAfterMisses (3) × the shortest interval (100 ms)')
  const before = h.applied.length
  h.advance(1000)
  h.answering('b', 'c')
  h.silent('a', 100)
  h.snapshots()
  for (let i = 0; i < 50 && h.applied.length === before; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(h.applied.length, before + 1, 'the snapshots showing a silent were acted on without a tick')
  t.equal(posTable(h.applied.at(-1)!), 1002, 'pos → table of path b')
})

t.test('the fallback tick does nothing while snapshot rounds come; it steers once they stop', async t => {
  const { h } = await runningWithEveryPathAnswering()
  const settle = async (applied: number) => {
    for (let i = 0; i < 50 && h.applied.length === applied; i++) await new Promise(resolve => setImmediate(resolve))
  }
  h.advance(1000)
  h.answering('a', 'b', 'c')
  h.snapshots()
  await settle(h.applied.length)
  const before = h.applied.length
  h.silent('a', 700) // silent for 500 ms by the first tick: a round then would move pos off a
  h.advance(200)
  h.answering('b', 'c')
  h.tick()
  await settle(before)
  t.equal(h.applied.length, before, '200 ms after a snapshot round the tick is skipped')
  h.advance(100)
  h.answering('b', 'c')
  h.tick()
  await settle(before)
  t.equal(h.applied.length, before + 1, 'a full tick (300 ms) without a round: the tick steers')
  t.equal(posTable(h.applied.at(-1)!), 1002, 'pos → table of path b')
})

t.test('carrier loss moves the class at once; the carrier returning restores the routes', async t => {
  const { h, daemon } = await runningWithEveryPathAnswering()
  const before = h.applied.length

  h.setLink(false)
  await new Promise(r => setImmediate(r))
  await daemon.evaluate()
  const down = h.applied.at(-1)!
  t.ok(h.applied.length > before, 'a link event re-applies')
  t.equal(posTable(down), 1002, 'pos moved to path b')
  t.notOk(hasDefaultVia(down, '192.0.2.1'), 'no route via a gateway that is gone')
  t.equal(daemon.snapshot().health.a?.reason, 'carrier lost')

  // The carrier is back but a's probes have not answered yet: no decision moves, yet a's routes must be
  // programmed again so its probes can get out.
  h.advance(2000)
  h.answering('b', 'c')
  h.silent('a', 5000)
  await daemon.evaluate()
  const beforeUp = h.applied.length
  h.setLink(true)
  await new Promise(r => setImmediate(r))
  await daemon.evaluate()
  t.ok(h.applied.length > beforeUp, 'facts changed: re-applied without any decision change')
  t.ok(hasDefaultVia(h.applied.at(-1)!, '192.0.2.1'), "a's default route is back")
  t.equal(posTable(h.applied.at(-1)!), 1002, 'pos stays on b until a proves itself')
})

t.test('an evaluation with nothing new applies nothing', async t => {
  const { h, daemon } = await runningWithEveryPathAnswering()
  const n = h.applied.length
  await daemon.evaluate()
  await daemon.evaluate()
  t.equal(h.applied.length, n)
})

t.test('warm-up follows the probes: a slow probe start drops nothing, a path that never answers is left', async t => {
  const h = harness()
  const daemon = new EdgeDaemon(policy, h.deps)
  await daemon.start()
  h.advance(3000)
  await daemon.evaluate()
  t.ok(daemon.snapshot().warmingUp, 'no probe has gone out yet: warming up')
  t.equal(posTable(h.applied.at(-1)!), 1001, 'pos stays on its first path meanwhile')

  // Probing starts at 3000; b answers, a never does. a has its verdict 8 intervals + a timeout later.
  h.answering('b', 'c')
  h.silent('a', 3000)
  h.advance(1000)
  await daemon.evaluate()
  t.equal(posTable(h.applied.at(-1)!), 1001, 'a is still within its verdict delay')
  h.advance(900)
  h.answering('b', 'c')
  await daemon.evaluate()
  t.equal(posTable(h.applied.at(-1)!), 1002, 'a never answered: pos moves to b')
  t.notOk(daemon.snapshot().warmingUp)
})

t.test('an event during start-up finds the paths warming up, not dropped', async t => {
  const h = harness()
  let onTunnelChange: () => void = () => undefined
  const daemon = new EdgeDaemon(policy, {
    ...h.deps,
    now: () => 5_000_000,
    tunnels: { set: async () => onTunnelChange(), state: () => undefined, onChange: l => void (onTunnelChange = l), stop: async () => undefined },
  })
  await daemon.start()
  await daemon.evaluate()
  t.equal(posTable(h.applied.at(-1)!), 1001, 'pos never left its first path')
  t.same(daemon.snapshot().recent, [], 'no re-steer was recorded')
})
