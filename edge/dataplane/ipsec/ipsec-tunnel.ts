// One IPsec tunnel: its own charon (supervised, restarted when it dies), its device made by the backend
// (tunnel-devices.ts: libipsec's TUN adopted, or a kernel xfrm interface), the conn and credentials loaded
// over VICI, the CHILD_SA initiated and kept up. State comes from three places, because each alone misses cases:
//   - `initiate` returning (it waits until the CHILD_SA is installed or failed);
//   - child-updown / ike-updown events on their own VICI connection (a DPD timeout, a peer's DELETE);
//   - list-sas whenever that event connection (re)registers (events sent before it existed are lost).
// A tunnel that goes down is initiated again with capped backoff: libipsec never raises acquires, so
// nothing else would bring it back (DESIGN.md, strongSwan 5.9); with kernel ESP the same keeps an xfrm
// interface's tunnel up before any packet asks for it. A restarted charon starts empty
// (charon-supervisor.ts), so each `ready` loads everything again.
import type { CharonSupervisorEvent, CharonSupervisorOptions } from './charon-supervisor.js'
import type { CharonInstance } from './charon-config.js'
import { loadTunnel, renderTunnel, type RenderedTunnel, type TunnelCertificateFiles } from './tunnel-conn.js'
import type { TunnelPlan } from './tunnel-plan.js'
import type { TunnelDevices } from './tunnel-devices.js'
import { ViciClient } from '../vici/client.js'
import { ViciEventSubscriber } from '../vici/event-subscriber.js'
import type { ViciMessage } from '../vici/message.js'
import { cancellableSleep, cappedBackoffMs, type BackoffPolicy, type Timers } from '../vici/retry.js'
import { parseUpdown, type IkeSaState } from '../vici/sa-state.js'
import type { ViciConnect } from '../vici/session.js'

/** The part of CharonSupervisor a tunnel uses. */
export interface SupervisedCharon {
  readonly pid: number | undefined
  readonly recentLog: readonly string[]
  start(): Promise<unknown>
  stop(): Promise<void>
}

export interface IpsecTunnelDeps {
  readonly supervise: (instance: CharonInstance, options: CharonSupervisorOptions) => SupervisedCharon
  readonly connectVici: (socketPath: string) => ViciConnect
  readonly devices: TunnelDevices
  readonly timers: Timers
  /** Between re-initiations of a tunnel that is down. */
  readonly initiateBackoff: BackoffPolicy
  readonly log: (level: 'info' | 'warn', fields: object, msg: string) => void
}

export interface TunnelState {
  readonly up: boolean
  readonly reason: string
}

export class IpsecTunnel {
  /**
   * Undefined until the tunnel first comes up: a tunnel still starting has no verdict, so the daemon
   * judges its path by its probes (which cannot pass before the SA exists) instead of taking it down,
   * and a class off it for a failback delay, on every start. The first initiate can fail once for no
   * fault of the peer (charon may not have seen the route anchor yet, see tun-device.ts); failures
   * before the first success are logged, not reported. Once up, every down is reported at once.
   */
  private current: TunnelState | undefined
  private readonly rendered: RenderedTunnel
  private supervisor: SupervisedCharon | undefined
  private subscriber: ViciEventSubscriber | undefined
  private client: ViciClient | undefined
  /** Counts charon lives; work begun for an older life is dropped. */
  private life = 0
  private configured: Promise<void> = Promise.resolve()
  private initiating = false
  private attempt = 0
  private retry: { cancel: () => void } | undefined
  private stopped = false

  constructor(
    readonly plan: TunnelPlan,
    /** The bytes of an X.509 tunnel's files (tunnel-conn.ts readTunnelCertificateFiles); absent for PSK. */
    files: TunnelCertificateFiles | undefined,
    private readonly deps: IpsecTunnelDeps,
    private readonly onChange: (state: TunnelState) => void,
  ) {
    this.rendered = renderTunnel(plan.tunnel, files)
  }

  get state(): TunnelState | undefined {
    return this.current
  }

  get charonPid(): number | undefined {
    return this.supervisor?.pid
  }

  /** Makes the device, starts charon, attaches the device and loads the conn; the CHILD_SA is initiated in the background. */
  async start(): Promise<void> {
    const name = this.plan.instance.name
    await this.deps.devices.prepare(this.plan)
    this.supervisor = this.deps.supervise(this.plan.instance, {
      onEvent: e => this.onCharon(e),
      onLog: line => {
        if (/\b(error|failed|unable)\b/i.test(line)) this.deps.log('warn', { tunnel: name }, `charon: ${line}`)
      },
    })
    this.subscriber = new ViciEventSubscriber({
      connect: this.deps.connectVici(this.plan.instance.viciSocketPath),
      events: ['ike-updown', 'child-updown'],
      onEvent: (event, message) => this.onUpdown(event, message),
      onRegistered: () => void this.sync(),
      timers: this.deps.timers,
      backoff: { initialMs: 20, maxMs: 1000 },
    })
    await this.supervisor.start()
    this.subscriber.start()
    await this.configured
  }

  /** Stops charon (SIGTERM: it sends DELETE for its SAs) and releases the device. */
  async stop(): Promise<void> {
    this.stopped = true
    this.retry?.cancel()
    await this.subscriber?.stop()
    this.client?.close()
    await this.supervisor?.stop()
    await this.deps.devices.release(this.plan)
    this.setState(false, 'stopped')
  }

  private onCharon(e: CharonSupervisorEvent): void {
    if (e.kind === 'ready') {
      const life = ++this.life
      this.configured = this.configure(life).catch(err => {
        // A first start that cannot be configured is the caller's error (set() reports it); a restarted
        // charon left empty would carry nothing, so it is configured again with backoff.
        if (life === 1) throw err
        this.configureFailed(life, 0, err as Error)
      })
    } else if (e.kind === 'exited') {
      this.life++
      this.retry?.cancel()
      this.client?.close()
      this.client = undefined
      this.setState(false, `charon exited (${e.signal ?? `code ${e.code}`})${e.willRestart ? '; restarting' : ''}`)
      if (!this.stopped) void this.deps.devices.charonGone(this.plan).catch(err => this.deps.log('warn', { err, tunnel: this.plan.instance.name }, 'cleaning up after charon failed'))
    }
  }

  private configureFailed(life: number, attempt: number, err: Error): void {
    this.setState(false, `configuring the restarted charon failed: ${err.message}`)
    this.deps.log('warn', { tunnel: this.plan.instance.name, err, attempt }, 'configuring a restarted charon failed; trying again')
    this.retry?.cancel()
    const sleep = cancellableSleep(this.deps.timers, cappedBackoffMs(attempt, this.deps.initiateBackoff))
    this.retry = sleep
    void sleep.done.then(() => {
      if (this.retry !== sleep || life !== this.life || this.stopped) return
      this.retry = undefined
      this.configured = this.configure(life).catch(e => this.configureFailed(life, attempt + 1, e as Error))
    })
  }

  private async configure(life: number): Promise<void> {
    try {
      await this.deps.devices.attach(this.plan, this.supervisor?.pid)
    } catch (err) {
      // A charon that died meanwhile took its device with it; its successor's `ready` attaches again.
      if (life !== this.life) return
      throw err
    }
    if (life !== this.life) return
    const client = await ViciClient.connect(this.deps.connectVici(this.plan.instance.viciSocketPath))
    if (life !== this.life) return client.close()
    this.client?.close()
    this.client = client
    await loadTunnel(client, this.rendered)
    this.attempt = 0
    void this.initiate(life)
  }

  private async initiate(life: number): Promise<void> {
    const client = this.client
    if (this.stopped || this.initiating || this.current?.up || !client || life !== this.life) return
    this.initiating = true
    try {
      await client.initiate({ child: this.rendered.childName, ike: this.rendered.connName })
      if (life !== this.life) return
      this.attempt = 0
      this.setState(true, 'CHILD_SA installed')
    } catch (err) {
      if (life !== this.life || this.stopped) return
      this.setState(false, `initiate failed: ${(err as Error).message}`)
      this.scheduleInitiate(life)
    } finally {
      this.initiating = false
    }
  }

  private scheduleInitiate(life: number): void {
    this.retry?.cancel()
    const sleep = cancellableSleep(this.deps.timers, cappedBackoffMs(this.attempt++, this.deps.initiateBackoff))
    this.retry = sleep
    void sleep.done.then(() => {
      if (this.retry === sleep) this.retry = undefined
      void this.initiate(life)
    })
  }

  private onUpdown(event: string, message: ViciMessage): void {
    const updown = parseUpdown(message)
    const ours = updown.ikeSas.filter(sa => sa.name === this.rendered.connName)
    if (ours.length === 0) return
    if (updown.up && event === 'child-updown' && installed(ours, this.rendered.childName)) {
      this.setState(true, 'CHILD_SA installed')
    } else if (!updown.up) {
      this.setState(false, event === 'ike-updown' ? 'IKE_SA down' : 'CHILD_SA down')
      // Wait for the retry delay: charon is still tearing the old SA down when the event arrives.
      if (!this.initiating) this.scheduleInitiate(this.life)
    }
  }

  /** Reads the SA state once the event connection is (re)registered: events before it are lost. */
  private async sync(): Promise<void> {
    const client = this.client
    if (!client || this.stopped) return
    try {
      const sas = await client.listSas({ ike: this.rendered.connName })
      if (installed(sas, this.rendered.childName)) this.setState(true, 'CHILD_SA installed')
      else if (!this.initiating) void this.initiate(this.life)
    } catch (err) {
      this.deps.log('warn', { tunnel: this.plan.instance.name, err }, 'list-sas after (re)registering failed')
    }
  }

  private setState(up: boolean, reason: string): void {
    if (!up && this.current === undefined) {
      this.deps.log('info', { tunnel: this.plan.instance.name, reason }, 'tunnel not up yet')
      return
    }
    const changed = up !== this.current?.up
    this.current = { up, reason }
    if (changed) {
      this.deps.log('info', { tunnel: this.plan.instance.name, up, reason }, `tunnel ${up ? 'up' : 'down'}`)
      this.onChange(this.current)
    }
  }
}

function installed(sas: readonly IkeSaState[], child: string): boolean {
  return sas.some(sa => sa.children.some(c => c.name === child && c.state === 'INSTALLED'))
}
