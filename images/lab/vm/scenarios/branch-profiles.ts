// Runs inside the lab VM: builds the retail branch with the providers' netem profiles, measures each
// uplink's round trip from the edge to the far side, steps broadband's delay up and back, and tears the
// lab down. Reports LAB-CHECK lines (scenario-checks.ts); exits 1 if any check failed.
import { spawnCommandRunner } from '../../command-runner.js'
import { buildLab, type Lab } from '../../lab-network.js'
import { PROVIDERS, retailBranch, type ProviderName } from '../../topology.js'
import { checkReporter } from '../scenario-checks.js'

const PINGS = 5
const checks = checkReporter()
const report = checks.report

/** Average RTT in ms of PINGS pings from the edge through one uplink, or the reason there is none. */
async function uplinkRtt(lab: Lab, provider: ProviderName): Promise<{ avgMs: number; received: number } | string> {
  const { topology } = lab
  const target = provider === 'mpls' ? topology.addresses.hubMpls : topology.addresses.hubPublic
  const ifname = topology.uplinks[provider].ifname
  const result = await lab.exec('edge', ['ping', '-n', '-q', '-c', String(PINGS), '-i', '0.2', '-W', '2', '-I', ifname, target])
  const received = Number(/(\d+) received/.exec(result.stdout)?.[1] ?? 0)
  const avg = /rtt min\/avg\/max\/mdev = [\d.]+\/([\d.]+)\//.exec(result.stdout)?.[1]
  return avg === undefined ? `ping -I ${ifname} ${target}: ${result.stdout.trim() || result.stderr.trim()}` : { avgMs: Number(avg), received }
}

const lab = await buildLab(retailBranch('vm-'), spawnCommandRunner())
try {
  const profiles = PROVIDERS.map(p => `${p}: ${lab.netem[p].detail}`).join('; ')
  report('branch-netem', PROVIDERS.every(p => lab.netem[p].applied), profiles)

  for (const provider of PROVIDERS) {
    const { rttMs, jitterMs } = lab.topology.uplinks[provider].profile
    const rtt = await uplinkRtt(lab, provider)
    // The floor allows for the profile's jitter (normal, per direction). TCG on a busy 2-core host adds
    // up to ~25 ms over four forwarding namespaces, so the ceiling only catches a profile applied twice.
    const ok = typeof rtt !== 'string' && rtt.received === PINGS && rtt.avgMs >= rttMs - jitterMs && rtt.avgMs < 2 * rttMs + 25
    const figure = typeof rtt === 'string' ? rtt : `${rtt.received}/${PINGS} replies, avg rtt ${rtt.avgMs} ms`
    report(`branch-rtt-${provider}`, ok, `${figure} (profile ${rttMs} ms ± ${jitterMs} ms)`)
  }

  await lab.impair('bb', { kind: 'delay', rttMs: 100 })
  const stepped = await uplinkRtt(lab, 'bb')
  await lab.restore('bb')
  const restored = await uplinkRtt(lab, 'bb')
  const ok = typeof stepped !== 'string' && typeof restored !== 'string' && stepped.avgMs >= 100 && restored.avgMs < 50
  const figure = (r: typeof stepped) => (typeof r === 'string' ? r : `${r.avgMs} ms`)
  report('branch-delay-step', ok, `bb avg rtt with 100 ms step ${figure(stepped)}, after restore ${figure(restored)}`)

  const client = await lab.exec('pos', ['ping', '-n', '-q', '-c', '1', '-W', '2', lab.topology.addresses.hubService])
  report('branch-lan-to-hub', client.code === 0, `pos → hub ${lab.topology.addresses.hubService} over mpls: exit ${client.code}`)
} finally {
  const removed = await lab.teardown()
  report('branch-teardown', removed.length === 9, `removed ${removed.length} namespaces`)
}
process.exit(checks.failed ? 1 : 0)
