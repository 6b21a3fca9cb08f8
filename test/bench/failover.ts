// npm run bench failover [-- --trials N --soak-s S]: how fast the real daemon moves a class when its
// path dies, in the lab branch on this machine (namespaces, 50 ms probes).
//   blackout   the provider silently drops everything; time from the cut to the first packet of a
//              running POS flow arriving at the far side via LTE, over N trials (p50, p95)
//   carrier    the provider's end of the access link goes down (the edge loses carrier); same measure
//   brownout   needs netem, which this host kernel lacks, so it runs in the VM lab (one boot of Debian's
//              kernel under QEMU TCG, images/lab/vm/daemon-suite.ts): LTE's RTT raised to 300 ms by netem
//              (VoIP's SLA: 150 ms), time from the impairment to the first datagram of a running VoIP flow arriving
//              via broadband, over --vm-trials N trials (p95); probes every 50 ms for the trials and the
//              default 1 s brownout confirmation. null, with the reason on stdout, when the VM lab is
//              unavailable
//   flaps      during an S-second soak with the lab policy's own timers (hold-down 10 s, failback 30 s)
//              and LTE dropping 0.2–0.6 % of packets against VoIP's 1 % loss SLA — a noisy link
//              below its threshold — the re-steers of VoIP, and how many of them returned it to the path
//              it had left less than 60 s before (flaps): the goal is 0
//   rss/cpu    the daemon's resident memory (peak) and CPU share with the load, 3 uplinks each
//              probed 20 times a second: after the soak the daemon is reloaded with the lab policy's
//              uplinks alone (no hub tunnels, so no POS) and measured for --footprint-s seconds (default
//              120). The soak's own figures (3 uplinks and 2 IPsec tunnels: 5 paths × 20 probes/s) are
//              printed beside them. The daemon runs compiled (this bench builds dist/ as `npm run build`
//              does) under plain node, as the firmware runs it; tsx alone would add ~45 MB.
// Reference: the goals (blackout ≤ 300 ms p95, carrier ≤ 50 ms p95, 0 flaps, ≤ 80 MB, ≤ 2 %) are printed
// beside the figures as ratios.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startBranch, type Branch } from '../../images/lab/branch.js'
import { spawnCommandRunner } from '../../images/lab/command-runner.js'
import { labPolicy } from '../../images/lab/lab-policy.js'
import { spawnLongRunning } from '../../images/lab/long-running-process.js'
import type { Impairment } from '../../images/lab/impairments.js'
import { percentile } from '../../probes/metrics/stats.js'
import { brownoutFigures, daemonVerdictLine, runDaemonSuite } from '../../images/lab/vm/daemon-suite.js'
import { defaultRunInVmDeps } from '../../images/lab/vm/run-in-vm.js'
import { vmLabSkip } from '../images/lab/helpers/lab-capabilities.js'

const { values } = parseArgs({ options: { trials: { type: 'string' }, 'soak-s': { type: 'string' }, 'vm-trials': { type: 'string' }, 'footprint-s': { type: 'string' } } })
const TRIALS = Number(values.trials ?? 20)
const VM_TRIALS = Number(values['vm-trials'] ?? 5)
const SOAK_S = Number(values['soak-s'] ?? 600)
const FOOTPRINT_S = Number(values['footprint-s'] ?? 120)
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const pct = (xs: readonly number[], p: number): number => percentile([...xs].sort((a, b) => a - b), p)
const REPO = fileURLToPath(new URL('../..', import.meta.url))

/** `npm run build`'s compile, so the daemon measured is this tree's code as the firmware runs it. */
function buildDaemon(): string {
  const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json')], { encoding: 'utf8' })
  if (tsc.status !== 0) throw new Error(`the build (tsc -p tsconfig.build.json) failed, so there is no daemon to measure:\n${tsc.stdout}${tsc.stderr}`)
  return join(REPO, 'dist/edge/cli/bin.js')
}

/** One trial on VoIP (LTE first, broadband second): cut LTE, time the flow's first packet via broadband. */
async function trial(branch: Branch, impairment: Impairment, port: number): Promise<number> {
  const t = branch.lab.topology
  const voip = (s: Awaited<ReturnType<Branch['status']>>) => s.classes.find(c => c.name === 'voip')!
  await branch.waitForStatus(s => voip(s).active[0] === 'lte' && ['bb', 'lte', 'mpls'].every(n => s.paths.find(p => p.name === n)?.state === 'up'), 30_000, 'VoIP on lte, direct paths up')
  const sink = await branch.startSink('inet', t.addresses.internetHost, 5060)
  const flow = branch.startFlow('voip', t.addresses.internetHost, 5060, port, 5, `T${port}`)
  await sink.waitFor(a => a.source === t.uplinks.lte.address, 10_000, 'the trial flow via lte')
  const mark = sink.arrivals.length
  const cut = Date.now()
  await branch.lab.impair('lte', impairment)
  const moved = await sink.waitFor(a => a.source === t.uplinks.bb.address, 10_000, 'the trial flow via bb', mark)
  flow.kill('SIGTERM')
  sink.stop()
  await branch.lab.restore('lte')
  return moved.at - cut
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024
}

/**
 * The brownout trials in the VM lab, run before the host branch starts so the two never share the CPU.
 * Figures are null, with the reason, when the VM lab is missing or its run gives none.
 */
async function vmBrownout(): Promise<{ p95Ms: number | null; note: string }> {
  if (!(Number.isInteger(VM_TRIALS) && VM_TRIALS > 0)) return { p95Ms: null, note: `--vm-trials ${VM_TRIALS}: no VM trials asked for` }
  const skip = vmLabSkip()
  if (skip) return { p95Ms: null, note: `the VM lab is not available here: ${skip}` }
  console.log(`brownout: ${VM_TRIALS} delay brownouts of LTE in the VM lab (one QEMU TCG boot, a few minutes)`)
  try {
    // The guest's check and trial lines as they come (the whole console is kernel and daemon chatter).
    let partial = ''
    const onConsole = (text: string): void => {
      const lines = (partial + text).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) if (/^(LAB-CHECK|brownout trial|module cache)/.test(line)) console.log(`lab:vm: ${line}`)
    }
    const report = await runDaemonSuite({ trials: VM_TRIALS, onConsole }, defaultRunInVmDeps(line => console.log(`lab:vm: ${line}`)))
    console.log(daemonVerdictLine(report))
    for (const check of report.checks.filter(c => !c.ok)) console.log(`lab:vm FAIL ${check.name}: ${check.detail}`)
    if ('error' in report.result) return { p95Ms: null, note: `the VM run gave no figures: ${report.result.error}` }
    report.result.trials.forEach((t, i) => console.log(`brownout trial ${i + 1}/${VM_TRIALS}: first VoIP packet via bb ${t.firstPacketMs ?? 'never'} ms, re-steer logged ${t.reSteerMs ?? 'never'} ms after the impairment started (applying it ${t.applyMs} ms)`))
    const f = brownoutFigures(report.result)
    const { brownoutConfirmMs, trialIntervalMs, trialRttMs } = report.result.settings
    return {
      p95Ms: f.p95Ms,
      note:
        `p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms from the impairment's start (p95 ${f.p95AfterApplyMs} ms from when its tc commands had finished) ` +
        `over ${f.moved}/${f.trials} trials that moved VoIP (VM lab: TCG, LTE's RTT raised to ${trialRttMs} ms, ${trialIntervalMs} ms probes, ${brownoutConfirmMs} ms confirmation)`,
    }
  } catch (error) {
    return { p95Ms: null, note: `the VM lab run failed: ${(error as Error).message.split('\n')[0]}` }
  }
}

async function main(): Promise<void> {
  const brownout = await vmBrownout()
  // Printed now as well as in the summary: the namespace trials below can still fail and end the run.
  console.log(`brownout: ${brownout.note}`)
  const daemonCli = buildDaemon()
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-bench-failover-'))
  const branch = await startBranch(
    {
      // Flap damping off for the trials: they cut LTE 40 times in a few minutes on purpose and must find VoIP
      // back on it after the same 1 s failback each time. The soak below runs with the default damping.
      prefix: `bf${process.pid % 100000}-`, workDir, policy: { intervalMs: 50, failover: { holdDownMs: 500, failbackDelayMs: 1000, maxFailbackDelayMs: 1000, brownoutConfirmMs: 2000 } }, logLevel: 'warn',
      daemonNodeArgs: [daemonCli],
    },
    { run: spawnCommandRunner(), spawn: spawnLongRunning, sleep, now: Date.now },
  )
  try {
    const blackout: number[] = []
    const carrier: number[] = []
    for (let i = 0; i < TRIALS; i++) {
      blackout.push(await trial(branch, { kind: 'blackout' }, 43000 + i))
      console.log(`blackout trial ${i + 1}/${TRIALS}: ${blackout.at(-1)} ms`)
    }
    for (let i = 0; i < TRIALS; i++) {
      carrier.push(await trial(branch, { kind: 'carrier-loss' }, 44000 + i))
      console.log(`carrier-loss trial ${i + 1}/${TRIALS}: ${carrier.at(-1)} ms`)
    }
    const voip = (s: Awaited<ReturnType<Branch['status']>>) => s.classes.find(c => c.name === 'voip')!
    await writeFile(branch.policyFile, labPolicy(branch.lab.topology, { serial: 2, pskFile: branch.pskFile, intervalMs: 50 }))
    const pid = branch.daemonPid!
    process.kill(pid, 'SIGHUP')
    await branch.waitForStatus(s => s.serial === 2 && voip(s).active[0] === 'lte', 60_000, 'the default timers in force, VoIP on lte')
    const logLines = async () => (await readFile(join(workDir, 'state/decisions.jsonl'), 'utf8')).trim().split('\n')
    const decisionsBefore = (await logLines()).length
    const ticks0 = await cpuTicks(pid)
    const t0 = Date.now()
    let rssPeak = 0
    console.log(`soak: ${SOAK_S} s with LTE dropping 0.2–0.6 % (VoIP SLA: 1 %), default timers`)
    for (let elapsed = 0; elapsed < SOAK_S; elapsed += 10) {
      const loss = 0.2 + Math.random() * 0.4
      await branch.lab.restore('lte')
      await branch.lab.impair('lte', { kind: 'loss', percent: Math.round(loss * 10) / 10 })
      rssPeak = Math.max(rssPeak, await rssMb(pid))
      await sleep(Math.min(10, SOAK_S - elapsed) * 1000)
    }
    await branch.lab.restore('lte')
    const cpuPct = (((await cpuTicks(pid)) - ticks0) / 100 / ((Date.now() - t0) / 1000)) * 100
    const moves = (await logLines()).slice(decisionsBefore).map(l => JSON.parse(l) as { class: string; time: string; from: string[]; to: string[]; reason: string }).filter(m => m.class === 'voip')
    const flaps = moves.filter((m, i) => moves.slice(0, i).some(prev => prev.from[0] === m.to[0] && Date.parse(m.time) - Date.parse(prev.time) < 60_000)).length
    console.log(`soak: VoIP re-steered ${moves.length} times, ${flaps} of them back to a path left < 60 s before`)
    // Each re-steer with its reason, so flaps can be told apart (loss, jitter, failback) from the output.
    for (const m of moves) console.log(`soak: ${m.time} ${m.from.join('+') || 'dropped'}→${m.to.join('+') || 'dropped'}: ${m.reason}`)
    console.log(`soak (5 paths × 20 probes/s): daemon RSS peak ${Math.round(rssPeak * 10) / 10} MB, CPU ${Math.round(cpuPct * 100) / 100} %`)

    await writeFile(branch.policyFile, labPolicy(branch.lab.topology, { serial: 3, intervalMs: 50, directOnly: true }))
    process.kill(pid, 'SIGHUP')
    await branch.waitForStatus(s => s.serial === 3 && ['bb', 'lte', 'mpls'].every(n => s.paths.find(p => p.name === n)?.state === 'up') && s.paths.length === 3, 60_000, 'the 3 uplinks alone probed')
    await sleep(10_000)
    const footprintTicks0 = await cpuTicks(pid)
    const f0 = Date.now()
    let footprintRss = 0
    for (let elapsed = 0; elapsed < FOOTPRINT_S; elapsed += 5) {
      footprintRss = Math.max(footprintRss, await rssMb(pid))
      await sleep(Math.min(5, FOOTPRINT_S - elapsed) * 1000)
    }
    const footprintCpu = (((await cpuTicks(pid)) - footprintTicks0) / 100 / ((Date.now() - f0) / 1000)) * 100
    console.log(`footprint (3 uplinks × 20 probes/s, ${FOOTPRINT_S} s): daemon RSS peak ${Math.round(footprintRss * 10) / 10} MB, CPU ${Math.round(footprintCpu * 100) / 100} %`)
    const r = {
      bench: 'failover',
      blackout_p50_ms: pct(blackout, 50),
      blackout_p95_ms: pct(blackout, 95),
      carrier_p95_ms: pct(carrier, 95),
      brownout_p95_ms: brownout.p95Ms,
      flaps,
      rss_mb: Math.round(footprintRss * 10) / 10,
      cpu_pct: Math.round(footprintCpu * 100) / 100,
      trials: TRIALS,
    }
    console.log(`blackout p50 ${r.blackout_p50_ms} ms, p95 ${r.blackout_p95_ms} ms (goal 300: ratio ${(r.blackout_p95_ms / 300).toFixed(2)})`)
    console.log(`carrier loss p50 ${pct(carrier, 50)} ms, p95 ${r.carrier_p95_ms} ms (goal 50: ratio ${(r.carrier_p95_ms / 50).toFixed(2)})`)
    const ratio = brownout.p95Ms === null ? 'null' : `p95 ${brownout.p95Ms} ms (goal 2000: ratio ${(brownout.p95Ms / 2000).toFixed(2)})`
    console.log(`brownout ${ratio}: ${brownout.note}`)
    console.log(`soak ${SOAK_S} s: ${flaps} flaps (goal 0)`)
    console.log(`3 uplinks × 20 probes/s: daemon RSS peak ${r.rss_mb} MB (goal 80: ratio ${(r.rss_mb / 80).toFixed(2)}), CPU ${r.cpu_pct} % (goal 2: ratio ${(r.cpu_pct / 2).toFixed(2)})`)
    console.log(JSON.stringify(r))
  } finally {
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

await main()
