// The daemon's TunnelPort: one charon per IPsec tunnel (ipsec-tunnel.ts), planned from the conns of the
// desired state and the current policy (tunnel-plan.ts), on the IPsec backend chosen at start: kernel ESP
// with xfrm interfaces, or kernel-libipsec where the kernel has no ESP (ipsec-backend.ts, tunnel-devices.ts).
// `set` converges to exactly the conns given: new tunnels start, changed ones restart, missing ones stop.
// Calls are serialised, so a set() arriving while another runs waits for it. A tunnel that cannot start
// (a PSK file not there yet, charon failing) is reported down and tried again with capped backoff: the
// daemon calls set() only when the conns change, so nobody else would.
import type { SitePolicy } from '../../config/policy.js'
import type { IpsecConn } from '../model.js'
import { IpsecTunnel, type IpsecTunnelDeps, type TunnelState } from './ipsec-tunnel.js'
import { readTunnelCertificateFiles, type TunnelAuth } from './tunnel-conn.js'
import { cancellableSleep, cappedBackoffMs } from '../vici/retry.js'
import { authFiles, freeSlot, planTunnel, type TunnelPlanOptions } from './tunnel-plan.js'
import { serialQueue } from '../../serial-queue.js'

export interface TunnelManagerDeps extends IpsecTunnelDeps {
  /** The policy in force: tunnels, hubs, LAN segments and the device id shape each conn's plan. */
  readonly policy: () => SitePolicy
  readonly readFile: (path: string) => Promise<Uint8Array>
  readonly mkdir: (dir: string) => Promise<unknown>
}

export class TunnelSetError extends Error {
  override readonly name = 'TunnelSetError'
  constructor(readonly failures: ReadonlyArray<{ tunnel: string; error: Error }>) {
    super(`${failures.length} IPsec tunnel(s) could not be started: ${failures.map(f => `${f.tunnel}: ${f.error.message}`).join('; ')}`)
  }
}

interface Running {
  readonly slot: number
  /** The plan as JSON (PSK included): any change restarts the tunnel. */
  readonly key: string
  readonly tunnel: IpsecTunnel
}

export class IpsecTunnelManager {
  private readonly running = new Map<string, Running>()
  /** Tunnels that could not start, with why; reported down until a later set() starts them. */
  private readonly failed = new Map<string, string>()
  private readonly listeners: Array<() => void> = []
  private readonly retries = new Map<string, { cancel: () => void }>()
  /** The conns of the last set(), for retries. */
  private wanted = new Map<string, IpsecConn>()
  private readonly serial = serialQueue()
  private swept = false

  constructor(
    private readonly options: TunnelPlanOptions,
    private readonly deps: TunnelManagerDeps,
  ) {}

  set(conns: readonly IpsecConn[]): Promise<void> {
    return this.serial(() => this.converge(conns))
  }

  state(tunnel: string): TunnelState | undefined {
    const failure = this.failed.get(tunnel)
    if (failure !== undefined) return { up: false, reason: failure }
    return this.running.get(tunnel)?.tunnel.state
  }

  /** Which backend does ESP, for status. */
  get backend(): TunnelPlanOptions['backend'] {
    return this.options.backend
  }

  /** charon's pid for a tunnel, for status and tests. */
  charonPid(tunnel: string): number | undefined {
    return this.running.get(tunnel)?.tunnel.charonPid
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener)
  }

  stop(): Promise<void> {
    return this.serial(() => this.converge([]))
  }

  /** Releases the netlink socket (it would keep the process alive); call after stop(). */
  close(): void {
    this.deps.devices.close()
  }

  private async converge(conns: readonly IpsecConn[]): Promise<void> {
    if (!this.swept) {
      const left = await this.deps.devices.sweep(new Set(conns.map(c => c.device)))
      if (left.length > 0) this.deps.log('info', { devices: left, backend: this.options.backend }, 'removed tunnel devices left by an earlier run')
      this.swept = true
    }
    await this.deps.mkdir(this.options.runDir)
    const wanted = new Map(conns.map(c => [c.name, c]))
    this.wanted = wanted
    // This round tries every wanted tunnel itself.
    for (const r of this.retries.values()) r.cancel()
    this.retries.clear()
    const stopping = [...this.running].filter(([name]) => !wanted.has(name))
    await Promise.all(stopping.map(([name, r]) => this.stopOne(name, r)))
    for (const name of [...this.failed.keys()]) if (!wanted.has(name)) this.failed.delete(name)

    const policy = this.deps.policy()
    // Slots are handed out before any start begins, so tunnels started together get distinct ports.
    const slots = new Map<string, number>()
    for (const conn of wanted.values()) {
      slots.set(conn.name, this.running.get(conn.name)?.slot ?? freeSlot([...[...this.running.values()].map(r => r.slot), ...slots.values()]))
    }
    const failures: Array<{ tunnel: string; error: Error }> = []
    await Promise.all(
      [...wanted.values()].map(async conn => {
        try {
          await this.converge1(policy, conn, slots.get(conn.name)!)
          this.failed.delete(conn.name)
        } catch (err) {
          const error = err as Error
          failures.push({ tunnel: conn.name, error })
          // A changed tunnel whose new plan cannot be made (say, its PSK file is gone) keeps running as it was.
          if (this.running.has(conn.name)) return
          this.failed.set(conn.name, error.message)
          this.notify()
          this.scheduleRetry(conn.name, 0)
        }
      }),
    )
    if (failures.length > 0) throw new TunnelSetError(failures)
  }

  private scheduleRetry(name: string, attempt: number): void {
    const sleep = cancellableSleep(this.deps.timers, cappedBackoffMs(attempt, this.deps.initiateBackoff))
    this.retries.set(name, sleep)
    void sleep.done.then(() => {
      if (this.retries.get(name) !== sleep) return // cancelled by a set() or stop()
      this.retries.delete(name)
      void this.serial(async () => {
        const conn = this.wanted.get(name)
        if (!conn || this.running.has(name)) return
        try {
          await this.converge1(this.deps.policy(), conn, freeSlot([...this.running.values()].map(r => r.slot)))
          this.failed.delete(name)
          this.deps.log('info', { tunnel: name, attempt: attempt + 1 }, 'tunnel started on a retry')
        } catch (err) {
          this.failed.set(name, (err as Error).message)
          this.deps.log('warn', { tunnel: name, err }, 'tunnel still cannot start')
          this.scheduleRetry(name, attempt + 1)
        }
        this.notify()
      })
    })
  }

  private async converge1(policy: SitePolicy, conn: IpsecConn, slot: number): Promise<void> {
    const existing = this.running.get(conn.name)
    const files = authFiles(policy, conn.name)
    const auth: TunnelAuth =
      'pskFile' in files
        ? { kind: 'psk', secret: Buffer.from(await this.deps.readFile(files.pskFile)).toString('utf8').trim() }
        : { kind: 'x509', certPath: files.certFile, keyPath: files.keyFile, caCertPath: files.caFile }
    const plan = planTunnel(policy, conn, slot, auth, this.options)
    const key = JSON.stringify(plan)
    if (existing?.key === key) return
    if (existing) await this.stopOne(conn.name, existing)
    const certificates = await readTunnelCertificateFiles(auth, this.deps.readFile)
    const tunnel = new IpsecTunnel(plan, certificates, this.deps, () => this.notify())
    this.running.set(conn.name, { slot, key, tunnel })
    try {
      await tunnel.start()
    } catch (err) {
      this.running.delete(conn.name)
      await tunnel.stop().catch(() => undefined)
      throw err
    }
  }

  /** The tunnel reports its own way down (onChange), so listeners hear of it once. */
  private async stopOne(name: string, r: Running): Promise<void> {
    this.running.delete(name)
    await r.tunnel.stop()
  }

  private notify(): void {
    for (const l of this.listeners) l()
  }
}
