// The real daemon on the host kernel, in the lab branch: three uplinks, reflectors on the far side, LAN
// clients. POS traffic leaves by broadband; a silent blackout of broadband and, separately, carrier loss
// move it to LTE; broadband coming back brings new POS flows home after the failback delay while the
// flow that moved stays on LTE (sticky). Stopping the daemon removes everything it owns.
// Times are printed for the record (the failover benchmark measures them properly); nothing asserts a
// duration, only outcomes.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startBranch, type Branch } from '../../../images/lab/branch.js'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { spawnLongRunning } from '../../../images/lab/long-running-process.js'
import { hostLabSkip } from '../../images/lab/helpers/lab-capabilities.js'

const run = spawnCommandRunner()
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const PORT = 7000

t.test('edge daemon steers and fails over in the lab branch', { skip: hostLabSkip() }, async t => {
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-daemon-'))
  const branch: Branch = await startBranch(
    { prefix: `dm${process.pid % 100000}-`, workDir, policy: { intervalMs: 50, failover: { holdDownMs: 1000, failbackDelayMs: 3000, brownoutConfirmMs: 500 } } },
    { run, spawn: spawnLongRunning, sleep, now: Date.now },
  )
  t.teardown(async () => {
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  })
  const topo = branch.lab.topology
  const bbAddr = topo.uplinks.bb.address
  const lteAddr = topo.uplinks.lte.address
  const pos = (s: Awaited<ReturnType<Branch['status']>>) => s.classes.find(c => c.name === 'pos')!

  const ready = await branch.waitForStatus(s => !s.warmingUp && s.paths.every(p => p.state === 'up'), 20_000, 'every path up')
  t.same(ready.paths.map(p => p.name).sort(), ['bb', 'lte', 'mpls'])
  t.same(pos(ready).active, ['bb'], 'POS starts on broadband')
  t.same(ready.classes.find(c => c.name === 'voip')!.active, ['lte'], 'VoIP starts on LTE')
  t.ok(ready.paths.every(p => p.rttMs !== undefined && p.lossPct === 0), 'every path has RTT figures and no loss')

  const sink = await branch.startSink('inet', topo.addresses.internetHost, PORT)
  branch.startFlow('pos', topo.addresses.internetHost, PORT, 41001, 20, 'A')
  await sink.waitFor(a => a.payload.startsWith('A ') && a.source === bbAddr, 10_000, 'flow A via broadband')
  t.pass('flow A leaves by broadband (NATed to the bb address)')

  await t.test('silent blackout of broadband moves POS to LTE', async t => {
    const mark = sink.arrivals.length
    const cut = Date.now()
    await branch.lab.impair('bb', { kind: 'blackout' })
    const moved = await sink.waitFor(a => a.payload.startsWith('A ') && a.source === lteAddr, 10_000, 'flow A via LTE', mark)
    t.comment(`blackout → first flow-A packet via LTE: ${moved.at - cut} ms`)
    const s = await branch.waitForStatus(s => pos(s).active[0] === 'lte', 5000, 'POS on LTE in status')
    t.equal(s.paths.find(p => p.name === 'bb')!.state, 'down')
    t.match(pos(s).reason, /bb failed: blackout/)
  })

  await t.test('broadband back: new flows fail back after the delay, the moved flow stays on LTE', async t => {
    await branch.lab.restore('bb')
    await branch.waitForStatus(s => pos(s).active[0] === 'bb', 15_000, 'POS failback to bb')
    const mark = sink.arrivals.length
    branch.startFlow('pos', topo.addresses.internetHost, PORT, 41002, 20, 'B')
    await sink.waitFor(a => a.payload.startsWith('B ') && a.source === bbAddr, 10_000, 'new flow B via broadband', mark)
    t.pass('a new POS flow takes broadband again')
    await sleep(500)
    const recentA = sink.arrivals.slice(mark).filter(a => a.payload.startsWith('A '))
    t.ok(recentA.length > 10, `flow A still flowing (${recentA.length} packets)`)
    t.ok(recentA.every(a => a.source === lteAddr), 'flow A stayed on LTE (sticky while LTE is healthy)')
  })

  await t.test('carrier loss on broadband moves flow B at once', async t => {
    const mark = sink.arrivals.length
    const cut = Date.now()
    await branch.lab.impair('bb', { kind: 'carrier-loss' })
    const moved = await sink.waitFor(a => a.payload.startsWith('B ') && a.source === lteAddr, 10_000, 'flow B via LTE', mark)
    t.comment(`carrier loss → first flow-B packet via LTE: ${moved.at - cut} ms`)
    const s = await branch.waitForStatus(s => s.uplinks.find(u => u.name === 'bb')!.up === false, 5000, 'bb link down in status')
    t.match(s.paths.find(p => p.name === 'bb')!.reason, /carrier lost/)
    await branch.lab.restore('bb')
    // The kernel dropped bb's routes with its carrier; they must come back with it, or bb's probes have no
    // way out and the path stays down for good.
    await branch.waitForStatus(s => s.paths.find(p => p.name === 'bb')!.state === 'up', 15_000, 'bb back up after carrier returns')
    t.pass('broadband comes back up once its carrier returns')
  })

  await t.test('every re-steer is in the decision log', async t => {
    const lines = (await readFile(join(workDir, 'state/decisions.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { class: string; from: string[]; to: string[]; reason: string })
    const posMoves = lines.filter(l => l.class === 'pos').map(l => `${l.from.join('+')}→${l.to.join('+')}`)
    t.same(posMoves.slice(0, 3), ['bb→lte', 'lte→bb', 'bb→lte'])
  })

  await t.test('stopping the daemon removes every object it owns and nothing else', async t => {
    const edge = topo.namespaces.edge
    const ip = async (...args: string[]) => (await run({ argv: ['ip', '-n', edge, ...args] })).stdout
    t.match(await ip('rule', 'list'), /lookup 1001/, 'our rules are there while it runs')
    t.equal(await branch.stopDaemon(), 0, 'the daemon exits 0 on SIGTERM')
    t.notMatch(await ip('rule', 'list'), /^100(0[0-9]|[1-9][0-9]):/m, 'no rule left in our priority range')
    t.equal((await ip('route', 'show', 'table', 'all', 'proto', '201')).trim(), '', 'no route of our protocol left')
    const nft = await run({ argv: ['ip', 'netns', 'exec', edge, 'nft', 'list', 'tables'] })
    t.notMatch(nft.stdout, /table inet sdwan\b/, 'our nft table is gone')
    t.match(await ip('route', 'show', 'default'), /via 192\.0\.2\.1 dev wan-bb metric 100/, "the box's own default routes are untouched")
  })
})
