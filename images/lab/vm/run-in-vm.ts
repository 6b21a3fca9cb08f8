// Boots Debian's kernel under QEMU TCG, runs a shell script inside (as root, cwd = the repo, shared
// read-only at the same path as on the host so `node --import tsx file.ts` works), and returns its
// exit status and the serial console. The verdict comes from the console marker, never from QEMU's exit
// status, which is 0 whatever the guest did.
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnCommandRunner } from '../command-runner.js'
import { spawnLongRunning, type SpawnLongRunning } from '../long-running-process.js'
import { readConsoleVerdict } from './console-verdict.js'
import { qemuCommand, type NinePShare } from './qemu-command.js'
import { defaultVmImageDeps, prepareVmImage, type VmImage } from './vm-image-cache.js'

export interface RunInVmOptions {
  /** POSIX sh script the guest runs with /bin/sh from the host's /usr; its exit status is the verdict. */
  readonly script: string
  /** Modules /init loads with modprobe before the script (dependencies come along). */
  readonly modules?: readonly string[]
  /** Hard limit for the whole boot; QEMU is killed when it passes. Default 180 s. */
  readonly timeoutMs?: number
  /** Guest memory; node inside needs a few hundred MB. Default 1024. */
  readonly memoryMb?: number
  /** vCPUs (TCG threads). Default 2, the size of this machine kind. */
  readonly cpus?: number
  /** Called with console output as it arrives, e.g. to stream it to a terminal. */
  readonly onConsole?: (text: string) => void
  /**
   * Files the script writes into /lab (the per-run share) to hand back, e.g. `['result.json']`: read
   * after the guest powers off, before the run directory is removed. Missing files are left out.
   */
  readonly collect?: readonly string[]
}

export interface VmRunResult {
  readonly ok: boolean
  readonly exitCode: number
  readonly console: string
  readonly kernelVersion: string
  /** Guest uptime at /init start: kernel boot time. */
  readonly bootS?: number
  /** Guest time from /init start to the scenario script's start: module loading and mounts. */
  readonly setupS?: number
  /** Guest time the scenario script ran. */
  readonly scenarioS?: number
  /** Host wall time from spawning QEMU to its exit. */
  readonly wallMs: number
  /** The `collect`ed files that exist, by name. */
  readonly files: Readonly<Record<string, string>>
  /** What /init reported before the scenario could run (exit 125), e.g. "modprobe -a foo". */
  readonly initError?: string
}

export class VmTimeoutError extends Error {
  override readonly name = 'VmTimeoutError'
  constructor(readonly timeoutMs: number, readonly console: string) {
    super(`lab VM did not finish within ${timeoutMs} ms and was killed; console ends:\n${tail(console)}`)
  }
}

export class VmMarkerMissingError extends Error {
  override readonly name = 'VmMarkerMissingError'
  constructor(readonly qemuExit: number | null, readonly console: string, readonly qemuStderr: string) {
    super(
      `lab VM ended (qemu exit ${qemuExit}) without printing its result marker — kernel panic, ` +
        `init crash or a QEMU error; qemu stderr: ${qemuStderr.trim() || '(empty)'}; console ends:\n${tail(console)}`,
    )
  }
}

/** The guest's own limit: the host's less what boot and power-off take, so the host limit rarely fires. */
export function guestTimeoutS(hostTimeoutMs: number): number {
  return Math.max(1, Math.floor(hostTimeoutMs / 1000) - 10)
}

function span(from: number | undefined, to: number | undefined): number | undefined {
  return from === undefined || to === undefined ? undefined : Math.round((to - from) * 100) / 100
}

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>)
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n')
}

export interface RunDir {
  readonly path: string
  /** A file the guest wrote into /lab, or undefined if it did not. */
  read(name: string): Promise<string | undefined>
  dispose(): Promise<void>
}

export interface RunInVmDeps {
  readonly prepareImage: () => Promise<VmImage>
  readonly spawnQemu: SpawnLongRunning
  /** A fresh host directory holding `scenario.sh`, shared read-write to the guest's /lab. */
  readonly makeRunDir: (script: string) => Promise<RunDir>
  readonly repoPath: string
  /**
   * Set when spawnQemu first waits for a lock (oneVmAtATime) and writes this line to stderr once it holds
   * it: the timeout and the wall time run from then, so waiting for another VM never counts against a run.
   */
  readonly lockHeldLine?: string
  readonly now: () => number
  readonly setTimer: (callback: () => void, ms: number) => () => void
}

export async function runInVm(options: RunInVmOptions, deps: RunInVmDeps = defaultRunInVmDeps()): Promise<VmRunResult> {
  const image = await deps.prepareImage()
  const runDir = await deps.makeRunDir(options.script)
  const timeoutMs = options.timeoutMs ?? 180_000
  try {
    const shares: NinePShare[] = [
      { tag: 'usr', hostPath: '/usr', readonly: true },
      { tag: 'etc', hostPath: '/etc', readonly: true },
      { tag: 'modules', hostPath: image.moduleTree, readonly: true },
      { tag: 'repo', hostPath: deps.repoPath, readonly: true },
      { tag: 'lab', hostPath: runDir.path, readonly: false },
    ]
    const argv = qemuCommand({
      image,
      shares,
      modules: options.modules ?? [],
      repoPath: deps.repoPath,
      memoryMb: options.memoryMb ?? 1024,
      cpus: options.cpus ?? 2,
      guestTimeoutS: guestTimeoutS(timeoutMs),
    })
    let started = deps.now()
    const qemu = deps.spawnQemu(argv)
    let console = ''
    let stderr = ''
    qemu.onStdout(text => {
      // The guest's serial line ends lines with \r\n.
      const clean = text.replaceAll('\r', '')
      console += clean
      options.onConsole?.(clean)
    })
    let timedOut = false
    let cancelTimer: (() => void) | undefined
    const startTimer = () => {
      started = deps.now()
      cancelTimer = deps.setTimer(() => {
        timedOut = true
        qemu.kill('SIGKILL')
      }, timeoutMs)
    }
    const lockLine = deps.lockHeldLine === undefined ? undefined : `${deps.lockHeldLine}\n`
    qemu.onStderr(text => {
      stderr += text
      if (lockLine !== undefined && cancelTimer === undefined && stderr.includes(lockLine)) {
        stderr = stderr.replace(lockLine, '')
        startTimer()
      }
    })
    if (lockLine === undefined) startTimer()
    const qemuExit = await qemu.exited
      .catch((error: Error) => {
        throw new Error(`${error.message} (install qemu-system-x86: images/setup-host.sh)`)
      })
      .finally(() => cancelTimer?.())
    const wallMs = deps.now() - started
    if (timedOut) throw new VmTimeoutError(timeoutMs, console)
    const verdict = readConsoleVerdict(console)
    if (verdict === undefined) throw new VmMarkerMissingError(qemuExit, console, stderr)
    const files: Record<string, string> = {}
    for (const name of options.collect ?? []) {
      const text = await runDir.read(name)
      if (text !== undefined) files[name] = text
    }
    return {
      ok: verdict.exitCode === 0,
      exitCode: verdict.exitCode,
      console,
      kernelVersion: image.kernelVersion,
      ...(verdict.initUptimeS === undefined ? {} : { bootS: verdict.initUptimeS }),
      ...optional('setupS', span(verdict.initUptimeS, verdict.scenarioUptimeS)),
      ...optional('scenarioS', span(verdict.scenarioUptimeS, verdict.endUptimeS)),
      wallMs,
      files,
      ...(verdict.initError === undefined ? {} : { initError: verdict.initError }),
    }
  } finally {
    await runDir.dispose()
  }
}

/** The repository root (this file is images/lab/vm/run-in-vm.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

export async function makeTempRunDir(script: string): Promise<RunDir> {
  const path = await fsp.mkdtemp(join(tmpdir(), 'sdwan-lab-vm-'))
  await fsp.writeFile(join(path, 'scenario.sh'), script, { mode: 0o755 })
  return {
    path,
    read: async name => {
      if (name.includes('/')) throw new Error(`collect: "${name}" must be a plain file name inside /lab`)
      return fsp.readFile(join(path, name), 'utf8').catch(() => undefined)
    },
    dispose: () => fsp.rm(path, { recursive: true, force: true }),
  }
}

export function defaultRunInVmDeps(log: (line: string) => void = () => {}): RunInVmDeps {
  const run = spawnCommandRunner()
  return {
    prepareImage: () => prepareVmImage(defaultVmImageDeps(run, log)),
    spawnQemu: spawnLongRunning,
    makeRunDir: makeTempRunDir,
    repoPath: REPO_ROOT,
    now: () => Date.now(),
    setTimer: (callback, ms) => {
      const timer = setTimeout(callback, ms)
      return () => clearTimeout(timer)
    },
  }
}
