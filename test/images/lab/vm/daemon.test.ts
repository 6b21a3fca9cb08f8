// The real edge daemon in the VM lab (one boot of Debian's kernel under QEMU TCG), where netem makes
// brownouts real: a jitter brownout and a loss burst on LTE move VoIP to broadband, restoring LTE brings
// it back after the failback delay, guest traffic never enters a tunnel, and the decision log has each
// step. Assertions are outcomes only; the durations the guest measured are printed as comments, since
// TCG on a loaded host says little about how fast the daemon is (npm run bench failover measures that).
// The pure parts (result file, decision log, percentiles, nft counters) are tested without the VM.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { brownoutFigures, DAEMON_CHECKS, daemonScript, daemonVerdictLine, runDaemonSuite } from '../../../../images/lab/vm/daemon-suite.js'
import { guestWatchRuleset, parseGuestWatch, tunnelDevices } from '../../../../images/lab/vm/scenarios/daemon-guest-watch.js'
import { classMoves, firstMoveTo, parseDaemonResult, parseDecisionLog, percentile, type DaemonScenarioResult } from '../../../../images/lab/vm/scenarios/daemon-result.js'
import { oneVmAtATime } from '../../../../images/lab/vm/vm-suite.js'
import { defaultRunInVmDeps } from '../../../../images/lab/vm/run-in-vm.js'
import { spawnLongRunning } from '../../../../images/lab/long-running-process.js'
import { vmLabSkip } from '../helpers/lab-capabilities.js'

const LOG = [
  { time: '2026-11-23T21:00:01.000Z', class: 'voip', at: 1, from: ['bb'], to: ['lte'], reason: 'failback to lte: met the SLA for 3 s', paths: {} },
  { time: '2026-11-23T21:00:10.500Z', class: 'voip', at: 2, from: ['lte'], to: ['bb'], reason: 'lte failed: jitter 61.2 ms > 30 ms → bb', paths: {} },
  { time: '2026-11-23T21:00:11.000Z', class: 'pos', at: 3, from: ['dc1-bb'], to: [], reason: 'no usable path: dropped (fail closed)', paths: {} },
]
  .map(r => JSON.stringify(r))
  .join('\n')

t.test('decision log: parsed, moves in order, first move to a path after a time', async t => {
  const records = parseDecisionLog(`${LOG}\n\n`)
  t.equal(records.length, 3)
  t.same(classMoves(records, 'voip'), ['bb→lte', 'lte→bb'])
  t.same(classMoves(records, 'pos'), ['dc1-bb→dropped'])
  t.equal(firstMoveTo(records, 'voip', 'bb', Date.parse('2026-11-23T21:00:05Z'))?.reason, 'lte failed: jitter 61.2 ms > 30 ms → bb')
  t.equal(firstMoveTo(records, 'voip', 'lte', Date.parse('2026-11-23T21:00:05Z')), undefined, 'a move before the time does not count')
  t.throws(() => parseDecisionLog('{"time":"x"}'), { name: 'DaemonResultError', message: /line 1: expected time, class/ })
  t.throws(() => parseDecisionLog('{\n'), { message: /line 1: not JSON/ })
})

t.test('percentile is nearest-rank over the figures that exist', async t => {
  t.equal(percentile([], 95), null)
  t.equal(percentile([null, null], 50), null)
  t.equal(percentile([300, null, 100, 200], 50), 200)
  t.equal(percentile([5, 1, 4, 2, 3], 95), 5)
  t.equal(percentile([5, 1, 4, 2, 3], 50), 3)
})

const move = (firstPacketMs: number | null) => ({ moved: firstPacketMs !== null, reSteerMs: firstPacketMs, firstPacketMs, reason: 'lte failed: jitter', applyMs: 300 })
const RESULT: DaemonScenarioResult = {
  settings: { intervalMs: 100, trialIntervalMs: 50, trialRttMs: 300, brownoutConfirmMs: 1500, failbackDelayMs: 3000, holdDownMs: 1000, jitterMs: 80, lossPct: 10 },
  jitterBrownout: move(2500),
  failback: { failedBack: true, afterMs: 4200, reason: 'failback to lte', movedFlowStayed: true },
  lossBurst: move(1900),
  guest: { received: 10, fromBroadband: 10, otherSources: [], forwarded: 12, tunnelled: 0, tunnelDevices: ['sw-dc1-bb'] },
  decisions: [],
  trials: [move(2000), move(null), move(3000)],
}

t.test('the guest result file is read back, and a bad one says which field', async t => {
  t.same(parseDaemonResult(JSON.stringify(RESULT)), RESULT)
  t.throws(() => parseDaemonResult('nope'), { name: 'DaemonResultError', message: /not JSON/ })
  t.throws(() => parseDaemonResult(JSON.stringify({ ...RESULT, lossBurst: { ...RESULT.lossBurst, reSteerMs: 'soon' } })), { message: /lossBurst: reSteerMs, firstPacketMs and applyMs/ })
  t.throws(() => parseDaemonResult(JSON.stringify({ ...RESULT, guest: { ...RESULT.guest, tunnelled: undefined } })), { message: /guest\.tunnelled/ })
  t.throws(() => parseDaemonResult(JSON.stringify({ ...RESULT, trials: [{}] })), { message: /trials\[0\]\.moved/ })
})

t.test('brownout figures: percentiles of the trials that moved', async t => {
  t.same(brownoutFigures(RESULT), { p50Ms: 2000, p95Ms: 3000, p95AfterApplyMs: 2700, moved: 2, trials: 3 })
  t.same(brownoutFigures({ ...RESULT, trials: [] }), { p50Ms: null, p95Ms: null, p95AfterApplyMs: null, moved: 0, trials: 0 })
})

t.test('the guest command line and the guest-watch table', async t => {
  t.equal(daemonScript(5), 'exec node --import tsx images/lab/vm/scenarios/daemon-voip.ts --trials 5 --out /lab/daemon-result.json\n')
  t.throws(() => daemonScript(-1), RangeError)
  const ruleset = guestWatchRuleset('br-guest')
  t.match(ruleset, /iifname "br-guest" oifname "sw-\*" counter name "guest_tunnelled"/)
  t.match(ruleset, /hook forward priority -300; policy accept;/)
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'inet', name: 'guest_forwarded', table: 'lab_guest_watch', packets: 42, bytes: 4200 } },
      { counter: { family: 'inet', name: 'guest_tunnelled', table: 'lab_guest_watch', packets: 0, bytes: 0 } },
    ],
  })
  t.same(parseGuestWatch(json), { forwarded: 42, tunnelled: 0 })
  t.throws(() => parseGuestWatch('{"nftables":[]}'), /no counter "guest_forwarded"/)
  const links = '1: lo: <LOOPBACK,UP> mtu 65536\n7: sw-dc1-bb: <POINTOPOINT,UP> mtu 1400\n8: sw-dc1-lte@NONE: <NOARP> mtu 1400\n9: wan-bb@if3: <UP> mtu 1500\n'
  t.same(tunnelDevices(links), ['sw-dc1-bb', 'sw-dc1-lte'])
})

t.test('one lab VM at a time: a second QEMU waits for the first, and keeps its own pid', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sdwan-vm-slot-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lock = join(dir, 'vm.lock')
  const deps = oneVmAtATime({ ...defaultRunInVmDeps(), spawnQemu: spawnLongRunning }, lock)
  const log: string[] = []
  // Stand-ins for QEMU: each prints its start and end, and the pid it runs as ($$ survives exec).
  const fake = (name: string) => deps.spawnQemu(['sh', '-c', `echo "${name} start $$"; sleep 0.3; echo "${name} end"`])
  const a = fake('a')
  await new Promise(r => setTimeout(r, 100))
  const b = fake('b')
  for (const p of [a, b]) p.onStdout(text => log.push(...text.trim().split('\n')))
  await Promise.all([a.exited, b.exited])
  t.same(log.map(l => l.split(' ').slice(0, 2).join(' ')), ['a start', 'a end', 'b start', 'b end'], 'b started only after a ended')
  t.equal(log[0], `a start ${a.pid}`, 'the command runs as the pid that was spawned (exec, not a child), so a kill reaches it')
})

t.test('VM: the real daemon steers VoIP through brownouts', { skip: vmLabSkip(), timeout: 600_000 }, async t => {
  const report = await runDaemonSuite()
  t.comment(daemonVerdictLine(report))
  for (const name of DAEMON_CHECKS) {
    const check = report.checks.find(c => c.name === name)
    t.ok(check?.ok, `${name}: ${check?.detail ?? 'never reported by the guest'}`)
  }
  t.equal(report.run.exitCode, 0, 'the guest scenario exited 0')
  if ('error' in report.result) {
    t.fail(report.result.error)
  } else {
    const r = report.result
    t.ok(r.jitterBrownout.moved, 'jitter past the SLA moved VoIP to broadband')
    t.ok(r.failback.failedBack, 'VoIP failed back to LTE after it recovered')
    t.ok(r.lossBurst.moved, 'a loss burst past 1 % moved VoIP to broadband')
    t.equal(r.guest.tunnelled, 0, 'no guest packet left through a tunnel device')
    t.equal(r.guest.fromBroadband, r.guest.received, 'every guest packet arrived from the broadband address')
    t.comment(`jitter brownout: re-steer ${r.jitterBrownout.reSteerMs} ms, first VoIP packet via bb ${r.jitterBrownout.firstPacketMs} ms after the impairment started (applying it: ${r.jitterBrownout.applyMs} ms; confirm ${r.settings.brownoutConfirmMs} ms, probes every ${r.settings.intervalMs} ms)`)
    t.comment(`failback: ${r.failback.afterMs} ms after LTE was restored (failback delay ${r.settings.failbackDelayMs} ms)`)
    t.comment(`loss burst: re-steer ${r.lossBurst.reSteerMs} ms, first VoIP packet via bb ${r.lossBurst.firstPacketMs} ms after the impairment started (applying it: ${r.lossBurst.applyMs} ms)`)
  }
  if (!report.ok) t.comment(report.run.console.split('\n').slice(-60).join('\n'))
})
