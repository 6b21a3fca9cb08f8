// GRE on a real kernel: one boot of Debian's kernel (the host kernel has no GRE) runs the real KernelPort
// on GRE and ip6gre links (scenarios/gre-port.ts, in a throwaway namespace) and then the real edge daemon
// with ERP over a plain GRE tunnel across MPLS to the lab hub (scenarios/gre-daemon.ts).
// Used by test/images/lab/vm-gre.test.ts.
import { DAEMON_MODULES } from './daemon-suite.js'
import { defaultRunInVmDeps, runInVm, type RunInVmDeps, type VmRunResult } from './run-in-vm.js'
import { parseChecks, type ScenarioCheck } from './scenario-checks.js'
import { oneVmAtATime } from './vm-suite.js'

/** The daemon's branch (with tun for the lab's IPsec tunnels) and both GRE families. */
export const GRE_MODULES: readonly string[] = [...DAEMON_MODULES, 'ip_gre', 'ip6_gre']

/** Both scenarios run even if the first fails, so one boot reports every check. */
export const GRE_SUITE_SCRIPT = [
  'ip netns add grep-port && ip netns exec grep-port node --import tsx images/lab/vm/scenarios/gre-port.ts; port=$?',
  'ip netns del grep-port',
  'node --import tsx images/lab/vm/scenarios/gre-daemon.ts; daemon=$?',
  'exit $((port | daemon))',
  '',
].join('\n')

export const GRE_PORT_CHECKS: readonly string[] = ['gre-port-add', 'gre-port-dump', 'gre-port-routes', 'gre-port-idempotent', 'gre-port-change', 'gre-port-remove']
export const GRE_DAEMON_CHECKS: readonly string[] = [
  'gre-daemon-path-up', 'gre-daemon-erp-through-tunnel', 'gre-daemon-mpls-wire-gre-only', 'gre-daemon-blackout-drops-erp',
  'gre-daemon-recovers', 'gre-daemon-never-in-clear', 'gre-daemon-teardown',
]
export const GRE_CHECKS: readonly string[] = [...GRE_PORT_CHECKS, ...GRE_DAEMON_CHECKS]

export interface GreSuiteReport {
  readonly ok: boolean
  readonly run: VmRunResult
  readonly checks: readonly ScenarioCheck[]
  /** Expected checks the guest never reported (it crashed or stopped early). */
  readonly missing: readonly string[]
}

/** ~3 minutes on a loaded 2-core host; the limit includes the wait for another lab VM (oneVmAtATime). */
export async function runGreSuite(options: { onConsole?: (text: string) => void; timeoutMs?: number } = {}, deps?: RunInVmDeps): Promise<GreSuiteReport> {
  const run = await runInVm(
    {
      script: GRE_SUITE_SCRIPT,
      modules: GRE_MODULES,
      // The daemon, five reflectors, two charons, sinks and senders: as daemon-suite.ts.
      memoryMb: 2048,
      timeoutMs: options.timeoutMs ?? 480_000,
      ...(options.onConsole === undefined ? {} : { onConsole: options.onConsole }),
    },
    oneVmAtATime(deps ?? defaultRunInVmDeps()),
  )
  const checks = parseChecks(run.console)
  const missing = GRE_CHECKS.filter(name => !checks.some(check => check.name === name))
  return { ok: run.ok && missing.length === 0 && checks.every(c => c.ok), run, checks, missing }
}

/** One line: `lab:vm gre PASS 13/13 checks (kernel …; boot 1.8 s, setup 0.8 s, scenario 95.0 s, wall 110.2 s)`. */
export function greVerdictLine(report: GreSuiteReport): string {
  const { run } = report
  const passed = report.checks.filter(c => c.ok).length
  const seconds = (label: string, value: number | undefined) => (value === undefined ? [] : [`${label} ${value.toFixed(1)} s`])
  const timings = [...seconds('boot', run.bootS), ...seconds('setup', run.setupS), ...seconds('scenario', run.scenarioS), `wall ${(run.wallMs / 1000).toFixed(1)} s`]
  const missing = report.missing.length === 0 ? '' : `; never reported: ${report.missing.join(', ')}`
  return `lab:vm gre ${report.ok ? 'PASS' : 'FAIL'} ${passed}/${GRE_CHECKS.length} checks (kernel ${run.kernelVersion}; ${timings.join(', ')}; guest exit ${run.exitCode}${missing})`
}
