// The IPsec tunnels on kernel ESP in the VM lab: one boot of Debian's kernel runs scenarios/ipsec-kernel.ts
// (an xfrm interface's life; the real daemon choosing kernel ESP by itself and steering POS through xfrm
// interfaces with ESP only on the wire, failing over without leaking; gre-over-ipsec through the tunnel
// manager). Used by test/images/lab/vm-ipsec.test.ts.
import { defaultRunInVmDeps, runInVm, type RunInVmDeps, type VmRunResult } from './run-in-vm.js'
import { parseChecks, type ScenarioCheck } from './scenario-checks.js'
import { oneVmAtATime, VM_SUITE_MODULES } from './vm-suite.js'

/** The branch's and the tunnels' modules, and tun: the lab hub's responders run kernel-libipsec. */
export const IPSEC_MODULES: readonly string[] = [...VM_SUITE_MODULES, 'tun']

export const IPSEC_SCRIPT = 'exec node --import tsx images/lab/vm/scenarios/ipsec-kernel.ts\n'

export const IPSEC_CHECKS: readonly string[] = [
  'xfrm-interface',
  'ipsec-kernel-backend', 'ipsec-class-via-xfrm', 'ipsec-esp-only', 'ipsec-failover', 'ipsec-no-cleartext-down',
  'gre-ipsec-traffic', 'gre-ipsec-esp-only', 'gre-ipsec-no-cleartext-down',
  'ipsec-teardown',
]

export interface IpsecSuiteReport {
  readonly ok: boolean
  readonly run: VmRunResult
  readonly checks: readonly ScenarioCheck[]
  /** Expected checks the guest never reported (it crashed or stopped early). */
  readonly missing: readonly string[]
}

/** ~3 minutes of scenario under TCG on a loaded 2-core host; the limit includes the wait for another lab VM. */
export async function runIpsecSuite(options: { onConsole?: (text: string) => void; timeoutMs?: number } = {}, deps?: RunInVmDeps): Promise<IpsecSuiteReport> {
  const run = await runInVm(
    {
      script: IPSEC_SCRIPT,
      modules: IPSEC_MODULES,
      // Daemon, reflectors, hub and edge charons, sink and sender: a dozen processes, as the daemon suite.
      memoryMb: 2048,
      timeoutMs: options.timeoutMs ?? 600_000,
      ...(options.onConsole === undefined ? {} : { onConsole: options.onConsole }),
    },
    oneVmAtATime(deps ?? defaultRunInVmDeps()),
  )
  const checks = parseChecks(run.console)
  const missing = IPSEC_CHECKS.filter(name => !checks.some(check => check.name === name))
  return { ok: run.ok && missing.length === 0 && checks.every(c => c.ok), run, checks, missing }
}

/** One line: `lab:vm ipsec PASS 10/10 checks (kernel …; boot 1.8 s, …)`. */
export function ipsecVerdictLine(report: IpsecSuiteReport): string {
  const { run } = report
  const passed = report.checks.filter(c => c.ok).length
  const seconds = (label: string, value: number | undefined) => (value === undefined ? [] : [`${label} ${value.toFixed(1)} s`])
  const timings = [...seconds('boot', run.bootS), ...seconds('setup', run.setupS), ...seconds('scenario', run.scenarioS), `wall ${(run.wallMs / 1000).toFixed(1)} s`]
  const missing = report.missing.length === 0 ? '' : `; never reported: ${report.missing.join(', ')}`
  return `lab:vm ipsec ${report.ok ? 'PASS' : 'FAIL'} ${passed}/${report.checks.length} checks (kernel ${run.kernelVersion}; ${timings.join(', ')}; guest exit ${run.exitCode}${missing})`
}
