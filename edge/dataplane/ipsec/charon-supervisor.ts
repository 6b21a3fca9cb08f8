// Starts, watches and stops one charon (kernel-libipsec mode) for one uplink. Side effects come in through
// CharonSupervisorDeps: spawning, writing the config, connecting to VICI, timers and the clock.
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'
import { ViciClient, type ViciVersion } from '../vici/client.js'
import { cancellableSleep, cappedBackoffMs, type BackoffPolicy, type Timers } from '../vici/retry.js'
import type { ViciConnect } from '../vici/session.js'
import { renderStrongswanConf, type CharonInstance } from './charon-config.js'
import { CharonAlreadyRunningError, CharonExitedError, CharonNotReadyError } from './errors.js'

/** The part of node's ChildProcess the supervisor uses. */
export interface CharonProcess {
  readonly pid?: number | undefined
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  kill(signal: NodeJS.Signals): boolean
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown
  /** Node emits 'error' instead of 'exit' when the program cannot be spawned (ENOENT, EACCES). */
  once(event: 'error', listener: (err: Error) => void): unknown
}

export type SpawnCharon = (command: string, args: readonly string[], env: Readonly<Record<string, string | undefined>>) => CharonProcess

export interface CharonSupervisorDeps {
  readonly spawn: SpawnCharon
  readonly writeFile: (path: string, text: string) => Promise<void>
  readonly connectVici: (socketPath: string) => ViciConnect
  readonly timers: Timers
  readonly now: () => number
  /** Environment the daemon inherits; STRONGSWAN_CONF is set on top of it. */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface CharonSupervisorOptions {
  readonly charonPath?: string
  readonly ipPath?: string
  /** Waits between VICI probes while charon starts (it opens the socket after loading plugins). */
  readonly readyProbe?: BackoffPolicy
  /** How many VICI probes before giving up on a start. */
  readonly readyAttempts?: number
  readonly restartBackoff?: BackoffPolicy
  /** A charon that ran this long before dying restarts at the initial backoff again. */
  readonly stableAfterMs?: number
  /** SIGTERM lets charon remove its TUN device and routes; SIGKILL follows after this long. */
  readonly stopGraceMs?: number
  readonly onLog?: (line: string) => void
  readonly onEvent?: (event: CharonSupervisorEvent) => void
}

export type CharonSupervisorEvent =
  | { readonly kind: 'spawned'; readonly pid: number | undefined }
  | { readonly kind: 'ready'; readonly pid: number | undefined; readonly version: ViciVersion }
  | { readonly kind: 'exited'; readonly pid: number | undefined; readonly code: number | null; readonly signal: string | null; readonly willRestart: boolean }
  | { readonly kind: 'restart-scheduled'; readonly attempt: number; readonly delayMs: number }
  | { readonly kind: 'restart-failed'; readonly error: Error }

const RECENT_LOG_LINES = 40

export class CharonSupervisor {
  private child: CharonProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private startedAt = 0
  private restartAttempt = 0
  private stopping = false
  /** Restarts happen only once a start succeeded: a charon that cannot start at all is the caller's error. */
  private supervising = false
  private pendingRestart: { cancel: () => void } | undefined
  private readonly recent: string[] = []

  constructor(
    readonly instance: CharonInstance,
    private readonly deps: CharonSupervisorDeps,
    private readonly options: CharonSupervisorOptions = {},
  ) {}

  /** The last lines charon logged, for error reports. */
  get recentLog(): readonly string[] {
    return this.recent
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  /**
   * Writes the config, spawns charon and resolves once it answers a VICI `version`. A restarted charon
   * starts empty (conns and credentials live only in its memory): whoever loaded them reloads on the
   * `ready` event that follows a `restart-scheduled`.
   */
  async start(): Promise<ViciVersion> {
    // A second daemon would take over the VICI socket path and the IKE ports of the first.
    if (this.child || this.supervising) throw new CharonAlreadyRunningError(this.instance.name, this.child?.pid)
    this.stopping = false
    await this.deps.writeFile(this.instance.confPath, renderStrongswanConf(this.instance))
    const version = await this.launch()
    this.supervising = true
    return version
  }

  /** Stops charon (SIGTERM, then SIGKILL after the grace time) and cancels any pending restart. */
  async stop(): Promise<void> {
    this.stopping = true
    this.supervising = false
    this.pendingRestart?.cancel()
    const child = this.child
    if (!child) return
    child.kill('SIGTERM')
    const grace = cancellableSleep(this.deps.timers, this.options.stopGraceMs ?? 5000)
    const killed = await Promise.race([this.exited.then(() => false), grace.done.then(() => true)])
    grace.cancel()
    if (killed) {
      child.kill('SIGKILL')
      await this.exited
    }
  }

  private async launch(): Promise<ViciVersion> {
    const charon = this.options.charonPath ?? '/usr/sbin/charon-systemd'
    // `ip netns exec` setns()es and then execs charon, so the pid we hold is charon's own.
    const [command, args] = this.instance.netns
      ? [this.options.ipPath ?? 'ip', ['netns', 'exec', this.instance.netns, charon]]
      : [charon, []]
    const child = this.deps.spawn(command, args, { ...this.deps.env, STRONGSWAN_CONF: this.instance.confPath })
    this.child = child
    this.startedAt = this.deps.now()
    let exitInfo: { code: number | null; signal: string | null } | undefined
    this.exited = new Promise(resolve => {
      const ended = (code: number | null, signal: string | null): void => {
        if (exitInfo) return // 'error' and 'exit' may both fire for one process
        exitInfo = { code, signal }
        resolve()
        this.onExit(child, code, signal)
      }
      child.once('exit', ended)
      child.once('error', err => {
        this.log(`spawning ${command} failed: ${err.message}`)
        ended(null, null)
      })
    })
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', line => this.log(line))
    }
    this.options.onEvent?.({ kind: 'spawned', pid: child.pid })

    const probe = this.options.readyProbe ?? { initialMs: 20, maxMs: 500 }
    const attempts = this.options.readyAttempts ?? 60
    let lastError: Error | undefined
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (exitInfo) throw new CharonExitedError(this.instance.name, exitInfo.code, exitInfo.signal, this.recent)
      try {
        const client = await ViciClient.connect(this.deps.connectVici(this.instance.viciSocketPath))
        try {
          const version = await client.version()
          this.options.onEvent?.({ kind: 'ready', pid: child.pid, version })
          return version
        } finally {
          client.close()
        }
      } catch (err) {
        lastError = err as Error
      }
      await cancellableSleep(this.deps.timers, cappedBackoffMs(attempt, probe)).done
    }
    if (exitInfo) throw new CharonExitedError(this.instance.name, exitInfo.code, exitInfo.signal, this.recent)
    // Alive but deaf: kill it rather than leave a useless daemon holding the ports (when supervising, its
    // exit schedules the next restart), and wait so a retried start() finds nothing running.
    child.kill('SIGKILL')
    await this.exited
    throw new CharonNotReadyError(this.instance.name, attempts, lastError, this.recent)
  }

  private onExit(child: CharonProcess, code: number | null, signal: string | null): void {
    if (this.child === child) this.child = undefined
    const willRestart = this.supervising && !this.stopping
    this.options.onEvent?.({ kind: 'exited', pid: child.pid, code, signal, willRestart })
    if (!willRestart) return
    const stableAfter = this.options.stableAfterMs ?? 30_000
    if (this.deps.now() - this.startedAt >= stableAfter) this.restartAttempt = 0
    const delayMs = cappedBackoffMs(this.restartAttempt, this.options.restartBackoff ?? { initialMs: 200, maxMs: 30_000 })
    this.options.onEvent?.({ kind: 'restart-scheduled', attempt: this.restartAttempt, delayMs })
    this.restartAttempt++
    const sleep = cancellableSleep(this.deps.timers, delayMs)
    this.pendingRestart = sleep
    void sleep.done.then(async () => {
      this.pendingRestart = undefined
      if (this.stopping) return
      try {
        await this.launch()
      } catch (err) {
        // A failed relaunch either exited (onExit schedules the next try) or was killed as deaf (likewise).
        this.options.onEvent?.({ kind: 'restart-failed', error: err as Error })
      }
    })
  }

  private log(line: string): void {
    this.recent.push(line)
    if (this.recent.length > RECENT_LOG_LINES) this.recent.shift()
    this.options.onLog?.(line)
  }
}
