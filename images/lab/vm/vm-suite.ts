// The VM scenario suite: what the host kernel cannot show, proven in one boot of Debian's kernel —
// GRE, kernel ESP over an xfrm interface, netem, and the retail branch with its provider profiles.
// Used by `npm run lab:vm` and by test/images/lab/vm/suite.test.ts.
import { join } from 'node:path'
import { defaultRunInVmDeps, runInVm, type RunInVmDeps, type VmRunResult } from './run-in-vm.js'
import { parseChecks, type ScenarioCheck } from './scenario-checks.js'
import { DEFAULT_CACHE_DIR } from './vm-image-cache.js'

/**
 * What a boot needs for the lab topology (retailBranch + buildLab): nft's expressions, NAT and the
 * crypto templates then arrive by the kernel's own request_module() autoload.
 */
export const BRANCH_MODULES: readonly string[] = ['veth', 'bridge', 'sch_netem', 'nf_tables']
/** Tunnels the edge builds on a full kernel: GRE, and kernel ESP with route-based xfrm interfaces. */
export const TUNNEL_MODULES: readonly string[] = ['ip_gre', 'esp4', 'xfrm_user', 'xfrm_interface']
export const VM_SUITE_MODULES: readonly string[] = [...BRANCH_MODULES, ...TUNNEL_MODULES]

/** Both scenarios run even if the first fails, so one boot reports every check. */
export const VM_SUITE_SCRIPT = [
  'sh images/lab/vm/scenarios/kernel-features.sh; features=$?',
  'node --import tsx images/lab/vm/scenarios/branch-profiles.ts; branch=$?',
  'exit $((features | branch))',
  '',
].join('\n')

export const VM_SUITE_CHECKS: readonly string[] = [
  'gre', 'esp', 'netem',
  'branch-netem', 'branch-rtt-bb', 'branch-rtt-lte', 'branch-rtt-mpls', 'branch-delay-step', 'branch-lan-to-hub',
  'branch-teardown',
]

/**
 * One lab VM at a time on this machine. TCG emulates every guest instruction on the host's cores: two VMs
 * on a 2-core host (tap runs two test files at once) starve each other's vCPUs into half-second stalls,
 * which the daemon's probes rightly read as blackouts and jitter. QEMU is started through a shell that
 * opens the lock file, waits for flock(1) on it, then execs QEMU holding the locked descriptor: the lock
 * lives exactly as long as QEMU (the kernel drops it however QEMU ends, so nothing stale is left), and
 * QEMU keeps the pid runInVm kills on timeout. The shell writes VM_LOCK_HELD_LINE to stderr once it holds
 * the lock, and a run's time limit starts there: with several VM test files, waiting for the slot is not
 * the run being slow.
 */
export const VM_LOCK_HELD_LINE = 'sdwan-lab: holding the lab VM lock'

export function oneVmAtATime(deps: RunInVmDeps, lockFile = join(process.env.SDWAN_LAB_CACHE ?? DEFAULT_CACHE_DIR, 'vm.lock')): RunInVmDeps {
  return {
    ...deps,
    lockHeldLine: VM_LOCK_HELD_LINE,
    spawnQemu: argv => deps.spawnQemu(['sh', '-c', `exec 9>"$0" && flock 9 && echo '${VM_LOCK_HELD_LINE}' >&2 && exec "$@"`, lockFile, ...argv]),
  }
}

/** A VM-lab scenario suite: what one boot runs and the checks its guest must report. */
export interface ScenarioSuite {
  /** Named in the verdict line, `lab:vm <label> PASS …`; empty for the kernel-features suite. */
  readonly label: string
  readonly script: string
  readonly modules: readonly string[]
  readonly checks: readonly string[]
  /** Guest memory; suites running the daemon, charons and sinks need 2 GB. Default 1024. */
  readonly memoryMb?: number
  /** Default limit for a run, counted from when it holds the VM lock. */
  readonly timeoutMs: number
}

export interface SuiteReport {
  readonly ok: boolean
  readonly run: VmRunResult
  readonly checks: readonly ScenarioCheck[]
  /** Expected checks the guest never reported (it crashed or stopped early). */
  readonly missing: readonly string[]
}

/** The kernel features (GRE, kernel ESP, netem) and the branch with its provider profiles. */
export const KERNEL_SUITE: ScenarioSuite = { label: '', script: VM_SUITE_SCRIPT, modules: VM_SUITE_MODULES, checks: VM_SUITE_CHECKS, timeoutMs: 420_000 }

export async function runSuite(
  suite: ScenarioSuite,
  options: { onConsole?: (text: string) => void; timeoutMs?: number } = {},
  deps?: RunInVmDeps,
): Promise<SuiteReport> {
  const run = await runInVm(
    {
      script: suite.script,
      modules: suite.modules,
      ...(suite.memoryMb === undefined ? {} : { memoryMb: suite.memoryMb }),
      timeoutMs: options.timeoutMs ?? suite.timeoutMs,
      ...(options.onConsole === undefined ? {} : { onConsole: options.onConsole }),
    },
    oneVmAtATime(deps ?? defaultRunInVmDeps()),
  )
  const checks = parseChecks(run.console)
  const missing = suite.checks.filter(name => !checks.some(check => check.name === name))
  return { ok: run.ok && missing.length === 0 && checks.every(c => c.ok), run, checks, missing }
}

/** One line: `lab:vm gre PASS 13/13 checks (kernel 6.1.0-56-amd64; boot 1.8 s, setup 0.8 s, scenario 95.0 s, wall 110.2 s; guest exit 0)`. */
export function suiteVerdictLine(suite: ScenarioSuite, report: SuiteReport): string {
  const passed = report.checks.filter(c => c.ok).length
  const { run } = report
  const seconds = (label: string, value: number | undefined) => (value === undefined ? [] : [`${label} ${value.toFixed(1)} s`])
  const timings = [...seconds('boot', run.bootS), ...seconds('setup', run.setupS), ...seconds('scenario', run.scenarioS), `wall ${(run.wallMs / 1000).toFixed(1)} s`]
  const missing = report.missing.length === 0 ? '' : `; never reported: ${report.missing.join(', ')}`
  const name = suite.label === '' ? 'lab:vm' : `lab:vm ${suite.label}`
  return `${name} ${report.ok ? 'PASS' : 'FAIL'} ${passed}/${suite.checks.length} checks (kernel ${run.kernelVersion}; ${timings.join(', ')}; guest exit ${run.exitCode}${missing})`
}
