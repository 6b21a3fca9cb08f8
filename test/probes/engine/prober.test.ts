// The probing loop with a virtual clock and network (helpers/fake-world.ts): exact RTTs, loss, late,
// duplicate, reordered and send-error events, per-path independence, count limits, authenticated mode,
// and target updates. Then the same through the ProbeEngine handle (inline transport).
import t from 'tap'
import { MultiPathProber } from '../../../probes/engine/prober.js'
import { ProbeEngine } from '../../../probes/engine/engine.js'
import type { ProbeEvent } from '../../../probes/engine/events.js'
import type { ProbeTarget } from '../../../probes/engine/target.js'
import type { PathMetrics } from '../../../probes/metrics/path-metrics.js'
import { pathHealth } from '../../../probes/health.js'
import { withProbeDefaults } from '../../../probes/settings.js'
import { FakeWorld } from '../helpers/fake-world.js'

const target = (pathId: string, localAddress: string, over: Partial<ProbeTarget> = {}): ProbeTarget => ({
  pathId, localAddress, remoteAddress: '198.18.0.1', port: 862, intervalMs: 100, timeoutMs: 500, ...over,
})

function harness(world: FakeWorld, windowSize = 20) {
  const events: ProbeEvent[] = []
  const errors: string[] = []
  const prober = new MultiPathProber(world.deps(), {
    windowSize,
    snapshotIntervalMs: 1000,
    onEvent: e => events.push(e),
    onSnapshot: () => undefined,
    onError: (pathId, err) => errors.push(`${pathId}: ${err.message}`),
  })
  const metrics = (pathId: string): PathMetrics => prober.snapshot().find(m => m.pathId === pathId)!
  const kinds = (pathId: string): string[] => events.filter(e => e.pathId === pathId).map(e => e.kind)
  return { prober, events, errors, metrics, kinds }
}
const settle = () => new Promise(resolve => setImmediate(resolve))

t.test('three paths, each on its own: clean, lossy, dead', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 5 })
  world.links.set('10.2.0.2', { delayMs: 20, drop: nth => nth % 4 === 3 })
  world.links.set('10.3.0.2', { delayMs: 5, drop: () => true })
  const h = harness(world)
  await h.prober.update([target('clean', '10.1.0.2'), target('lossy', '10.2.0.2'), target('dead', '10.3.0.2')])
  world.advance(1999)
  const clean = h.metrics('clean')
  t.match(clean, { totalSent: 20, received: 20, lost: 0, lossPct: 0, jitterMs: 0 })
  t.same(clean.rtt, { minMs: 10, avgMs: 10, maxMs: 10, p50Ms: 10, p95Ms: 10, p99Ms: 10 }, 'RTT is exactly 2 × 5 ms on the virtual clock')
  const lossy = h.metrics('lossy')
  t.equal(lossy.rtt?.avgMs, 40)
  // Probes 3, 7, 11, 15, 19 were dropped; 15 (sent at 1500) and 19 are still within their 500 ms timeout,
  // but 16's reply has overtaken 15, so it is presumed lost; 19 is not counted yet.
  t.match(lossy, { received: 15, lost: 4, settled: 19 }, 'every 4th probe lost: 15 presumed lost, 19 still pending')
  const dead = h.metrics('dead')
  t.match(dead, { received: 0, lastReplyAt: null, consecutiveReplies: 0 })
  t.equal(h.kinds('dead').filter(k => k === 'lost').length, dead.lost)
  const settings = withProbeDefaults({ intervalMs: 100 })
  t.equal(pathHealth(null, clean, settings, { up: true }, world.nowMs).state, 'up')
  t.equal(pathHealth(null, dead, settings, { up: true }, world.nowMs).state, 'down')
  h.prober.stop()
})

t.test('late, duplicate and reordered replies, and send errors', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 300 }) // RTT 600 > timeout 500: late
  world.links.set('10.2.0.2', { delayMs: 5, duplicate: true })
  world.links.set('10.3.0.2', { delayMs: nth => (nth % 2 === 0 ? 40 : 5) }) // even probes overtaken by odd ones
  world.links.set('10.4.0.2', { delayMs: 5, down: true })
  const h = harness(world)
  await h.prober.update([
    target('late', '10.1.0.2'), target('dup', '10.2.0.2'), target('reorder', '10.3.0.2', { intervalMs: 20 }), target('down', '10.4.0.2'),
  ])
  world.advance(1000)
  t.ok(h.kinds('late').includes('late'), 'a reply after timeoutMs is reported late')
  t.notOk(h.kinds('late').includes('reply'))
  t.match(h.metrics('late'), { received: 0 })
  t.ok(h.metrics('late').late > 0 && h.metrics('late').late === h.metrics('late').lost, 'late replies count as lost')
  t.equal(h.kinds('dup').filter(k => k === 'duplicate').length, h.kinds('dup').filter(k => k === 'reply').length, 'each reply came twice')
  t.equal(h.metrics('dup').lossPct, 0, 'duplicates are not replies and not losses')
  t.ok(h.metrics('reorder').reordered > 0, `reordering seen (${h.metrics('reorder').reordered})`)
  t.equal(h.metrics('reorder').lossPct, 0)
  t.ok(h.kinds('down').includes('send-error'), 'a failed send is reported')
  t.ok(h.metrics('down').lost > 0, 'and the probe counts as lost')
  h.prober.stop()
})

t.test('count stops sending; authenticated mode; stray datagrams', async t => {
  const key = Buffer.alloc(32, 9)
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 1, reflectorKey: key })
  world.links.set('10.2.0.2', { delayMs: 1, reflectorKey: key })
  const h = harness(world)
  await h.prober.update([
    target('auth', '10.1.0.2', { authKey: key, count: 3 }),
    target('wrongkey', '10.2.0.2', { authKey: Buffer.alloc(32, 1), count: 3 }),
  ])
  world.advance(2000)
  t.match(h.metrics('auth'), { totalSent: 3, received: 3 })
  t.match(h.metrics('wrongkey'), { totalSent: 3, received: 0, lost: 3 }, 'the reflector ignores a wrong key')
  h.prober.stop()
})

t.test('a reflector answering from another address: its datagrams are strays, and the blackout says whose', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 5, answersFrom: '192.0.2.99:862' })
  const h = harness(world)
  await h.prober.update([target('multihomed', '10.1.0.2', { intervalMs: 50 })])
  world.advance(1000)
  const m = h.metrics('multihomed')
  t.match(m, { received: 0, lastReplyAt: null, lastStray: { from: '192.0.2.99:862' } })
  const invalid = h.events.filter(e => e.kind === 'invalid')
  t.ok(invalid.length >= 15, `every reply reported (${invalid.length})`)
  t.equal(invalid[0]!.detail, "1 datagram(s) from 192.0.2.99:862, not the reflector 198.18.0.1:862: ignored")
  const health = pathHealth(null, m, withProbeDefaults({ intervalMs: 50 }), { up: true }, world.nowMs)
  t.equal(health.state, 'down')
  t.match(health.reason, /^blackout: no reply yet \(\d+ probes missed, limit \d+\); datagrams from 192\.0\.2\.99:862 instead, which is not the reflector$/)
  h.prober.stop()
})

t.test('update: removed paths stop, changed ones restart, bad targets are refused', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 1 })
  world.links.set('10.2.0.2', { delayMs: 1 })
  const h = harness(world)
  await h.prober.update([target('a', '10.1.0.2'), target('b', '10.2.0.2')])
  world.advance(500)
  await h.prober.update([target('a', '10.1.0.2')])
  const before = h.events.filter(e => e.pathId === 'b').length
  world.advance(500)
  t.equal(h.events.filter(e => e.pathId === 'b').length, before, 'no events from a removed path')
  t.equal(h.metrics('a').totalSent, 11, 'an unchanged path keeps its window (probes at 0, 100, …, 1000 ms)')
  await h.prober.update([target('a', '10.1.0.2', { intervalMs: 50 })])
  world.advance(0) // the I/O thread's next turn: the new session's first probe is due at once
  t.equal(h.metrics('a').totalSent, 1, 'a changed path starts a new session')
  await t.rejects(h.prober.update([target('x', 'not-an-ip')]), /localAddress 'not-an-ip' is not an IP address/)
  await t.rejects(h.prober.update([target('x', '10.1.0.2'), target('x', '10.2.0.2')]), /used twice/)
  await t.rejects(h.prober.update([target('x', '10.1.0.2', { remoteAddress: '::1' })]), /different IP versions/)
  h.prober.stop()
})

t.test('one snapshot call per interval carries every path; none before there are paths', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 1 })
  world.links.set('10.2.0.2', { delayMs: 1 })
  const batches: string[][] = []
  const prober = new MultiPathProber(world.deps(), {
    windowSize: 20, snapshotIntervalMs: 100, onEvent: () => undefined, onSnapshot: ms => batches.push(ms.map(m => m.pathId)), onError: () => undefined,
  })
  world.advance(250)
  t.same(batches, [], 'no paths, no snapshot')
  await prober.update([target('a', '10.1.0.2'), target('b', '10.2.0.2')])
  world.advance(300)
  t.same(batches, [['a', 'b'], ['a', 'b'], ['a', 'b']], 'one call per 100 ms with both paths')
  prober.stop()
})

t.test('ProbeEngine with probeEvents false: snapshots and latest, no probe events', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 2 })
  world.links.set('10.2.0.2', { delayMs: 3 })
  const engine = ProbeEngine.start([target('a', '10.1.0.2', { intervalMs: 10 }), target('b', '10.2.0.2', { intervalMs: 10 })], {
    windowSize: 50, snapshotIntervalMs: 100, probeEvents: false, deps: world.deps(),
  })
  const probes: ProbeEvent[] = []
  const snapshots: PathMetrics[] = []
  const batches: string[][] = []
  engine.on('probe', e => probes.push(e))
  engine.on('metrics', m => snapshots.push(m))
  engine.on('snapshots', batch => batches.push(batch.map(m => m.pathId)))
  await settle()
  world.advance(1000)
  await settle()
  t.equal(probes.length, 0, 'no probe events cross')
  t.ok(snapshots.length >= 18, `periodic snapshots (${snapshots.length})`)
  t.equal(batches.length * 2, snapshots.length, 'one snapshots event per batch, after its metrics events')
  t.ok(batches.every(b => b.join() === 'a,b'), 'each batch holds every path')
  t.match(engine.latest('a'), { received: 49, lost: 0 }, 'the window is full of replies, but for the probe that left at the snapshot\'s own instant')
  await engine.stop()
})

t.test('ProbeEngine handle over the inline transport: events, snapshots, latest, stop', async t => {
  const world = new FakeWorld()
  world.links.set('10.1.0.2', { delayMs: 2 })
  const engine = ProbeEngine.start([target('a', '10.1.0.2', { intervalMs: 10 })], {
    windowSize: 50, snapshotIntervalMs: 100, deps: world.deps(),
  })
  const probes: ProbeEvent[] = []
  const snapshots: PathMetrics[] = []
  engine.on('probe', e => probes.push(e))
  engine.on('metrics', m => snapshots.push(m))
  await settle()
  world.advance(1000)
  await settle()
  t.ok(snapshots.length >= 9, `periodic snapshots (${snapshots.length})`)
  t.equal(probes.filter(p => p.kind === 'reply').length, 100, 'one reply event per probe')
  t.equal(engine.latest('a')?.rtt?.p99Ms, 4)
  engine.update([])
  await settle()
  t.equal(engine.latest('a'), undefined, 'a removed path has no latest snapshot')
  await engine.stop()
  t.throws(() => ProbeEngine.start([target('', '10.1.0.2')], { deps: world.deps() }), /pathId must be a non-empty string/)
})

t.test('failover timing on the virtual clock: 50 ms probes, an outage, a recovery', async t => {
  const world = new FakeWorld()
  let dark = false
  world.links.set('10.1.0.2', { delayMs: 5, drop: () => dark })
  const h = harness(world, 100)
  const settings = withProbeDefaults({ intervalMs: 50, timeoutMs: 1000 })
  await h.prober.update([target('wan', '10.1.0.2', { intervalMs: 50, timeoutMs: 1000 })])
  let health = pathHealth(null, null, settings, { up: true }, world.nowMs)
  const start = world.nowMs
  const transitions: string[] = []
  // The steering loop's view: a verdict every 10 ms from the latest snapshot.
  const step = (until: number): void => {
    while (world.nowMs - start < until) {
      world.advance(10)
      const next = pathHealth(health, h.metrics('wan'), settings, { up: true }, world.nowMs)
      if (next.state !== health.state) transitions.push(`${Math.round(world.nowMs - start)} ${next.state}`)
      health = next
    }
  }
  step(1002)
  dark = true // probes sent from t = 1050 on are lost; the last reply (probe sent at 1000) arrived at 1010
  step(1502)
  dark = false // the probe sent at 1550 is the first answered again
  step(2000)
  t.same(transitions, [
    '210 up', // 5 replies in a row: probes at 0..200 answered by 210
    '1160 down', // 3 × 50 ms of silence after the reply at 1010 — long before the 1000 ms timeout
    '1760 up', // 5 replies in a row again: probes at 1550..1750
  ])
  h.prober.stop()
})
