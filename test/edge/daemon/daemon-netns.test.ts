// The real daemon on the host kernel, in the lab branch: three uplinks, hub dc1 reached by IPsec over
// broadband and over LTE (kernel-libipsec charons, one per tunnel), reflectors on the far side, LAN
// clients. POS rides IPsec to the DC service over broadband, with only ESP-in-UDP on the wire; a silent
// blackout of broadband moves it to the tunnel over LTE; with both tunnels down it is dropped and never
// appears in cleartext on any provider; broadband coming back brings POS home after the failback delay;
// a killed charon comes back (supervisor restart, reload, re-initiate); carrier loss still moves a direct
// class at once; stopping the daemon removes everything it owns.
// Times are printed for the record (the failover benchmark measures them properly); nothing asserts a
// duration, only outcomes.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startBranch, type Branch } from '../../../images/lab/branch.js'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { LAB_POS_PORT } from '../../../images/lab/lab-policy.js'
import { spawnLongRunning } from '../../../images/lab/long-running-process.js'
import { PROVIDERS, type ProviderName } from '../../../images/lab/topology.js'
import { hostLabSkip } from '../../images/lab/helpers/lab-capabilities.js'
import { CHARON } from '../dataplane/ipsec/helpers/charon-pair.js'
import { missingCapability } from '../dataplane/ipsec/helpers/netns-pair.js'

const run = spawnCommandRunner()
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const charonMissing = await missingCapability(CHARON)
const skip = hostLabSkip() || (charonMissing && process.env['CI'] !== 'true' ? `the lab's tunnels: ${charonMissing}` : false)
const WATCH = 'sdwan_test_watch'

/**
 * Counters at each provider's access interface, before its blackout (which drops in the forward hook):
 * POS in the clear (UDP to the DC service's port) and ESP-in-UDP (UDP 4500), whatever the provider then does.
 */
async function watchProviders(branch: Branch): Promise<void> {
  for (const p of PROVIDERS) {
    const ruleset = [
      `table inet ${WATCH} {`,
      '  counter pos_clear {}',
      '  counter esp_in_udp {}',
      '  chain in {',
      '    type filter hook prerouting priority -300; policy accept;',
      `    iifname "cust" udp dport ${LAB_POS_PORT} counter name pos_clear`,
      '    iifname "cust" udp dport 4500 counter name esp_in_udp',
      '  }',
      '}',
    ].join('\n')
    const r = await run({ argv: ['ip', 'netns', 'exec', branch.lab.topology.namespaces[p], 'nft', '-f', '-'], input: ruleset })
    if (r.code !== 0) throw new Error(`watch counters on ${p}: ${r.stderr}`)
  }
}

async function watched(branch: Branch, p: ProviderName): Promise<{ posClear: number; espInUdp: number }> {
  const r = await run({ argv: ['ip', 'netns', 'exec', branch.lab.topology.namespaces[p], 'nft', '-j', 'list', 'counters', 'table', 'inet', WATCH] })
  const items = (JSON.parse(r.stdout) as { nftables: Array<{ counter?: { name: string; packets: number } }> }).nftables
  const packets = (name: string) => items.find(i => i.counter?.name === name)?.counter?.packets ?? -1
  return { posClear: packets('pos_clear'), espInUdp: packets('esp_in_udp') }
}

/** The edge charon of a tunnel, by the config file named in its environment (charon-systemd takes no argv). */
async function charonPidOf(branch: Branch, tunnel: string): Promise<number | undefined> {
  const pids = (await run({ argv: ['ip', 'netns', 'pids', branch.lab.topology.namespaces.edge] })).stdout.split(/\s+/).filter(Boolean)
  for (const pid of pids) {
    const env = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '')
    if (env.split('\0').some(v => v.startsWith('STRONGSWAN_CONF=') && v.endsWith(`/${tunnel}.strongswan.conf`))) return Number(pid)
  }
  return undefined
}

t.test('edge daemon steers POS through IPsec and fails over in the lab branch', { skip }, async t => {
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-daemon-'))
  const branch: Branch = await startBranch(
    { prefix: `dm${process.pid % 100000}-`, workDir, policy: { intervalMs: 50, failover: { holdDownMs: 1000, failbackDelayMs: 3000, brownoutConfirmMs: 500 } } },
    { run, spawn: spawnLongRunning, sleep, now: Date.now },
  )
  t.teardown(async () => {
    if (!t.passing()) t.comment(`daemon log:\n${branch.daemonLog.slice(-30).join('\n')}\nhub log:\n${branch.hubLog.slice(-20).join('\n')}`)
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  })
  const topo = branch.lab.topology
  const pos = (s: Awaited<ReturnType<Branch['status']>>) => s.classes.find(c => c.name === 'pos')!
  const path = (s: Awaited<ReturnType<Branch['status']>>, name: string) => s.paths.find(p => p.name === name)!

  // Steady state: a tunnel that came up after the warm-up has POS back only after the failback delay.
  const ready = await branch.waitForStatus(s => !s.warmingUp && s.paths.every(p => p.state === 'up') && pos(s).active[0] === 'dc1-bb', 30_000, 'every path up, POS on dc1-bb')
  t.same(ready.paths.map(p => p.name).sort(), ['bb', 'dc1-bb', 'dc1-lte', 'lte', 'mpls'])
  t.same(pos(ready).active, ['dc1-bb'], 'POS starts on the tunnel over broadband')
  t.same(ready.classes.find(c => c.name === 'voip')!.active, ['lte'], 'VoIP starts on LTE')
  t.same(ready.classes.find(c => c.name === 'guest')!.active, ['bb'], 'guest starts on broadband, direct')
  t.ok(ready.paths.every(p => p.rttMs !== undefined && p.lossPct === 0), 'every path has RTT figures and no loss')

  await watchProviders(branch)
  const sink = await branch.startSink('hub', topo.addresses.hubService, LAB_POS_PORT)
  branch.startFlow('pos', topo.addresses.hubService, LAB_POS_PORT, 41001, 20, 'A')
  await sink.waitFor(a => a.payload.startsWith('A ') && a.source === topo.addresses.clients.pos, 10_000, 'flow A at the DC')
  const bb0 = await watched(branch, 'bb')
  t.equal(bb0.posClear, 0, 'no POS in the clear on broadband')
  t.ok(bb0.espInUdp > 0, `ESP-in-UDP on broadband (${bb0.espInUdp} packets)`)

  await t.test('silent blackout of broadband moves POS to the tunnel over LTE', async t => {
    const lte0 = await watched(branch, 'lte')
    const cut = Date.now()
    await branch.lab.impair('bb', { kind: 'blackout' })
    const s = await branch.waitForStatus(s => pos(s).active[0] === 'dc1-lte', 10_000, 'POS on dc1-lte')
    t.comment(`blackout → POS on dc1-lte in status after ${Date.now() - cut} ms`)
    t.equal(path(s, 'dc1-bb').state, 'down', 'the tunnel over broadband is down')
    const mark = sink.arrivals.length
    await sink.waitFor(a => a.payload.startsWith('A '), 10_000, 'flow A at the DC after the move', mark)
    const lte1 = await watched(branch, 'lte')
    t.ok(lte1.espInUdp > lte0.espInUdp, 'POS now crosses LTE as ESP-in-UDP')
    t.equal(lte1.posClear, 0, 'and never in the clear')
  })

  await t.test('both tunnels down: POS is dropped, never in the clear on any provider', async t => {
    await branch.lab.impair('lte', { kind: 'blackout' })
    const s = await branch.waitForStatus(s => pos(s).active.length === 0, 10_000, 'POS without a path')
    t.match(pos(s).reason, /dropped \(fail closed\)/)
    t.equal(s.classes.find(c => c.name === 'erp')!.active[0], 'mpls', 'MPLS is up and carries ERP, yet POS does not take it')
    // Let packets already in flight land, then nothing more may arrive.
    await sleep(300)
    const mark = sink.arrivals.length
    await sleep(1000)
    t.equal(sink.arrivals.slice(mark).filter(a => a.payload.startsWith('A ')).length, 0, 'no POS reaches the DC')
    for (const p of PROVIDERS) t.equal((await watched(branch, p)).posClear, 0, `no POS in the clear on ${p}`)
  })

  await t.test('broadband back: POS returns to the tunnel over broadband', async t => {
    // Broadband first: the direct classes (guest, store-web) leave the drop for bb, as before the blackouts.
    await branch.lab.restore('bb')
    await branch.lab.restore('lte')
    await branch.waitForStatus(s => pos(s).active[0] === 'dc1-bb', 30_000, 'POS back on dc1-bb')
    const mark = sink.arrivals.length
    branch.startFlow('pos', topo.addresses.hubService, LAB_POS_PORT, 41002, 20, 'B')
    await sink.waitFor(a => a.payload.startsWith('B '), 10_000, 'new flow B at the DC', mark)
    t.pass('a new POS flow reaches the DC again')
  })

  await t.test('a killed charon is restarted, reloaded and the tunnel comes back', async t => {
    const old = await charonPidOf(branch, 'dc1-bb')
    t.ok(old, 'the charon of dc1-bb is running in the edge namespace')
    process.kill(old!, 'SIGKILL')
    await branch.waitForStatus(s => /charon exited|down/.test(path(s, 'dc1-bb').reason) || path(s, 'dc1-bb').state === 'down', 10_000, 'dc1-bb reported down')
    t.pass('dc1-bb reported down when its charon died')
    await branch.waitForStatus(s => path(s, 'dc1-bb').state === 'up' && pos(s).active[0] === 'dc1-bb', 30_000, 'dc1-bb up and carrying POS again')
    const now = await charonPidOf(branch, 'dc1-bb')
    t.ok(now && now !== old, `a new charon (pid ${now})`)
    const mark = sink.arrivals.length
    await sink.waitFor(a => a.payload.startsWith('B '), 10_000, 'flow B at the DC through the new charon', mark)
    t.pass('POS crosses the restarted tunnel')
  })

  await t.test('carrier loss on broadband moves guest at once', async t => {
    await branch.waitForStatus(s => s.classes.find(c => c.name === 'guest')!.active[0] === 'bb', 15_000, 'guest back on bb')
    const guestSink = await branch.startSink('inet', topo.addresses.internetHost, 7001)
    branch.startFlow('guest', topo.addresses.internetHost, 7001, 41003, 20, 'G')
    await guestSink.waitFor(a => a.payload.startsWith('G ') && a.source === topo.uplinks.bb.address, 10_000, 'guest via broadband')
    const mark = guestSink.arrivals.length
    const cut = Date.now()
    await branch.lab.impair('bb', { kind: 'carrier-loss' })
    const moved = await guestSink.waitFor(a => a.payload.startsWith('G ') && a.source === topo.uplinks.lte.address, 10_000, 'guest via LTE', mark)
    t.comment(`carrier loss → first guest packet via LTE: ${moved.at - cut} ms`)
    const s = await branch.waitForStatus(s => s.uplinks.find(u => u.name === 'bb')!.up === false, 5000, 'bb link down in status')
    t.match(path(s, 'bb').reason, /carrier lost/)
    await branch.lab.restore('bb')
    // The kernel dropped bb's routes with its carrier; they must come back with it, or bb's probes have no
    // way out and the path stays down for good.
    await branch.waitForStatus(s => path(s, 'bb').state === 'up', 15_000, 'bb back up after carrier returns')
    t.pass('broadband comes back up once its carrier returns')
    guestSink.stop()
  })

  await t.test('every re-steer is in the decision log', async t => {
    const lines = (await readFile(join(workDir, 'state/decisions.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { class: string; from: string[]; to: string[]; reason: string })
    const posMoves = lines.filter(l => l.class === 'pos').map(l => `${l.from.join('+')}→${l.to.join('+')}`)
    // Blackout, then both down, then out of the drop (to whichever tunnel re-established first) and home.
    const i = posMoves.indexOf('dc1-bb→dc1-lte')
    t.ok(i >= 0 && posMoves[i + 1] === 'dc1-lte→' && posMoves[i + 2]?.startsWith('→') && posMoves.slice(i + 2).some(m => m.endsWith('→dc1-bb')), `blackout, both down, back (all POS moves: ${posMoves.join(', ')})`)
  })

  await t.test('stopping the daemon removes every object it owns and nothing else', async t => {
    const edge = topo.namespaces.edge
    const ip = async (...args: string[]) => (await run({ argv: ['ip', '-n', edge, ...args] })).stdout
    t.match(await ip('rule', 'list'), /lookup 1001/, 'our rules are there while it runs')
    t.equal(await branch.stopDaemon(), 0, 'the daemon exits 0 on SIGTERM')
    t.notMatch(await ip('rule', 'list'), /^100(0[0-9]|[1-9][0-9]):/m, 'no rule left in our priority range')
    t.notMatch(await ip('rule', 'list'), /fwmark 0xffffffff/, "no charon route-anchor rule left")
    t.equal((await ip('route', 'show', 'table', 'all', 'proto', '201')).trim(), '', 'no route of our protocol left')
    const nft = await run({ argv: ['ip', 'netns', 'exec', edge, 'nft', 'list', 'tables'] })
    t.notMatch(nft.stdout, /table inet sdwan\b/, 'our nft table is gone')
    t.notMatch(await ip('-o', 'link', 'show'), /: (sw-|ipsec)/, 'no tunnel device or route anchor left')
    t.equal(await charonPidOf(branch, 'dc1-bb'), undefined, 'no charon left running')
    t.match(await ip('route', 'show', 'default'), /via 192\.0\.2\.1 dev wan-bb metric 100/, "the box's own default routes are untouched")
  })
})
