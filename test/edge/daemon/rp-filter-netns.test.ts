// Strict reverse-path filtering against the real daemon in the lab branch. With broadband blacked out,
// store traffic to the internet leaves by LTE; its replies come back on wan-lte, which the main table
// (default via broadband) would not route back out: strict rp_filter drops them. The daemon loosens
// strict filtering on its uplinks and tunnel devices whenever it programs the kernel (here: on SIGHUP),
// and leaves conf/all and every other device as the admin set them.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startBranch, type Branch } from '../../../images/lab/branch.js'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { spawnLongRunning } from '../../../images/lab/long-running-process.js'
import { hostLabSkip } from '../../images/lab/helpers/lab-capabilities.js'
import { CHARON } from '../dataplane/ipsec/helpers/charon-pair.js'
import { missingCapability } from '../dataplane/ipsec/helpers/netns-pair.js'

const run = spawnCommandRunner()
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const charonMissing = await missingCapability(CHARON)
const skip = hostLabSkip() || (charonMissing && process.env['CI'] !== 'true' ? `the lab's tunnels: ${charonMissing}` : false)

t.test('strict reverse-path filtering is loosened on the uplinks and tunnels, nowhere else', { skip }, async t => {
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-rpf-'))
  const branch: Branch = await startBranch(
    { prefix: `rp${process.pid % 100000}-`, workDir, policy: { intervalMs: 50, failover: { holdDownMs: 1000, failbackDelayMs: 3000, brownoutConfirmMs: 500 } } },
    { run, spawn: spawnLongRunning, sleep, now: Date.now },
  )
  t.teardown(async () => {
    if (!t.passing()) t.comment(`daemon log (${branch.daemonLog.length} lines):\n${branch.daemonLog.slice(-30).join('\n')}`)
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  })
  const { addresses, uplinks } = branch.lab.topology
  const sysctl = async (key: string): Promise<string> => (await branch.lab.exec('edge', ['sysctl', '-n', key])).stdout.trim()
  const setSysctl = async (key: string, value: number): Promise<void> => {
    const r = await branch.lab.exec('edge', ['sysctl', '-qw', `${key}=${value}`])
    if (r.code !== 0) throw new Error(`sysctl ${key}=${value}: ${r.stderr}`)
  }
  /** Three pings from the POS terminal to the internet host (class store-web); true if any came back. */
  const pings = async (): Promise<boolean> => (await branch.lab.exec('pos', ['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', addresses.internetHost])).code === 0

  await branch.waitForStatus(s => !s.warmingUp && s.paths.every(p => p.state === 'up'), 30_000, 'every path up')
  await branch.lab.impair('bb', { kind: 'blackout' })
  await branch.waitForStatus(s => s.classes.find(c => c.name === 'store-web')?.active[0] === 'lte', 10_000, 'store-web on lte')
  t.ok(await pings(), 'store traffic to the internet crosses LTE with rp_filter off')

  await setSysctl('net.ipv4.conf.all.rp_filter', 1)
  t.notOk(await pings(), "with strict filtering (all = 1) the replies arriving on wan-lte are dropped")

  const log = branch.daemonLog.length
  process.kill(branch.daemonPid!, 'SIGHUP')
  await branch.waitForStatus(() => branch.daemonLog.slice(log).some(l => l.includes('reverse-path filtering set loose')), 15_000, 'the daemon loosening rp_filter')
  t.ok(await pings(), 'after the daemon programmed the kernel again, the replies come back')
  t.equal(await sysctl(`net.ipv4.conf.${uplinks.lte.ifname}.rp_filter`), '2', 'wan-lte is loose')
  t.equal(await sysctl(`net.ipv4.conf.${uplinks.bb.ifname}.rp_filter`), '2', 'wan-bb is loose')
  t.equal(await sysctl('net.ipv4.conf.sw-dc1-lte.rp_filter'), '2', 'the tunnel device over LTE is loose')
  t.equal(await sysctl('net.ipv4.conf.all.rp_filter'), '1', "conf/all keeps the admin's strict setting")
  t.equal(await sysctl('net.ipv4.conf.lo.rp_filter'), '0', 'a device that is no path of ours is left alone')
  await branch.lab.restore('bb')
})
