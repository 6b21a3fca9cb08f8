// The real edge daemon in the VM lab, where netem makes brownouts real: one boot of Debian's kernel runs
// scenarios/daemon-voip.ts (VoIP moved by a jitter brownout and a loss burst on LTE, failback, guest
// never in a tunnel) and, when asked, N timed jitter brownouts for `npm run bench failover`.
// Used by test/images/lab/vm/daemon.test.ts and test/bench/failover.ts.
import { defaultRunInVmDeps, runInVm, type RunInVmDeps, type VmRunResult } from './run-in-vm.js'
import { parseChecks, type ScenarioCheck } from './scenario-checks.js'
import { parseDaemonResult, percentile, type DaemonScenarioResult } from './scenarios/daemon-result.js'
import { BRANCH_MODULES, oneVmAtATime } from './vm-suite.js'

/**
 * The branch's modules, and tun: the lab's IPsec tunnels (POS's, which this scenario does not use) run
 * kernel-libipsec, whose TUN device needs /dev/net/tun — devtmpfs only has that node once tun is loaded.
 */
export const DAEMON_MODULES: readonly string[] = [...BRANCH_MODULES, 'tun']
export const DAEMON_RESULT_FILE = 'daemon-result.json'

export const DAEMON_CHECKS: readonly string[] = [
  'daemon-ready', 'daemon-voip-on-lte', 'daemon-guest-on-bb', 'daemon-jitter-moves-voip', 'daemon-failback',
  'daemon-loss-moves-voip', 'daemon-guest-never-tunnelled', 'daemon-decision-log', 'daemon-teardown',
]
export const TRIAL_CHECK = 'daemon-brownout-trials'

export interface DaemonSuiteOptions {
  /** Extra timed jitter brownouts after the story (the bench's trials). Default 0. */
  readonly trials?: number
  readonly timeoutMs?: number
  readonly onConsole?: (text: string) => void
}

export interface DaemonSuiteReport {
  readonly ok: boolean
  readonly run: VmRunResult
  readonly checks: readonly ScenarioCheck[]
  /** Expected checks the guest never reported (it crashed or stopped early). */
  readonly missing: readonly string[]
  /** The guest's figures, or why there are none. */
  readonly result: DaemonScenarioResult | { readonly error: string }
}

/** The guest's command line: sh runs it from the repo (cwd), with the per-run share at /lab. */
export function daemonScript(trials: number): string {
  if (!(Number.isInteger(trials) && trials >= 0)) throw new RangeError(`trials must be a whole number ≥ 0, not ${trials}`)
  return `exec node --import tsx images/lab/vm/scenarios/daemon-voip.ts --trials ${trials} --out /lab/${DAEMON_RESULT_FILE}\n`
}

/**
 * One run takes ~2.5 minutes on a loaded 2-core host, each trial ~15 s more, and the limit includes the
 * wait for another lab VM to finish (oneVmAtATime): room for that, not for a hang.
 */
export function daemonTimeoutMs(trials: number): number {
  return 420_000 + trials * 30_000
}

export async function runDaemonSuite(options: DaemonSuiteOptions = {}, deps?: RunInVmDeps): Promise<DaemonSuiteReport> {
  const trials = options.trials ?? 0
  const run = await runInVm(
    {
      script: daemonScript(trials),
      modules: DAEMON_MODULES,
      // Daemon, reflectors, charons, sinks and senders are a dozen node processes: 1 GB is tight.
      memoryMb: 2048,
      timeoutMs: options.timeoutMs ?? daemonTimeoutMs(trials),
      collect: [DAEMON_RESULT_FILE],
      ...(options.onConsole === undefined ? {} : { onConsole: options.onConsole }),
    },
    oneVmAtATime(deps ?? defaultRunInVmDeps()),
  )
  const checks = parseChecks(run.console)
  const expected = trials > 0 ? [...DAEMON_CHECKS, TRIAL_CHECK] : DAEMON_CHECKS
  const missing = expected.filter(name => !checks.some(check => check.name === name))
  const text = run.files[DAEMON_RESULT_FILE]
  let result: DaemonSuiteReport['result']
  try {
    result = text === undefined ? { error: `the guest wrote no ${DAEMON_RESULT_FILE} (exit ${run.exitCode})` } : parseDaemonResult(text)
  } catch (error) {
    result = { error: (error as Error).message }
  }
  const ok = run.ok && missing.length === 0 && checks.every(c => c.ok) && !('error' in result)
  return { ok, run, checks, missing, result }
}

export interface BrownoutFigures {
  /** Impairment started → first VoIP packet via broadband: the bench's measure, conservative. */
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  /** The same less the time the impairment's tc commands took (TCG makes that seconds, not ms). */
  readonly p95AfterApplyMs: number | null
  readonly moved: number
  readonly trials: number
}

export function brownoutFigures(result: DaemonScenarioResult): BrownoutFigures {
  const moved = result.trials.filter(t => t.moved)
  const firstPacket = moved.map(t => t.firstPacketMs)
  const afterApply = moved.map(t => (t.firstPacketMs === null || t.applyMs === null ? null : t.firstPacketMs - t.applyMs))
  return {
    p50Ms: percentile(firstPacket, 50),
    p95Ms: percentile(firstPacket, 95),
    p95AfterApplyMs: percentile(afterApply, 95),
    moved: moved.length,
    trials: result.trials.length,
  }
}

/** One line: `lab:vm daemon PASS 9/9 checks (kernel …; boot 1.8 s, setup 0.8 s, scenario 95.0 s, wall 110.2 s)`. */
export function daemonVerdictLine(report: DaemonSuiteReport): string {
  const { run } = report
  const passed = report.checks.filter(c => c.ok).length
  const seconds = (label: string, value: number | undefined) => (value === undefined ? [] : [`${label} ${value.toFixed(1)} s`])
  const timings = [...seconds('boot', run.bootS), ...seconds('setup', run.setupS), ...seconds('scenario', run.scenarioS), `wall ${(run.wallMs / 1000).toFixed(1)} s`]
  const missing = report.missing.length === 0 ? '' : `; never reported: ${report.missing.join(', ')}`
  const result = 'error' in report.result ? `; ${report.result.error}` : ''
  return `lab:vm daemon ${report.ok ? 'PASS' : 'FAIL'} ${passed}/${report.checks.length} checks (kernel ${run.kernelVersion}; ${timings.join(', ')}; guest exit ${run.exitCode}${missing}${result})`
}
