// The hub mode's thin shell: applies planHub's state (xfrm interfaces, rules and routes over rtnetlink,
// the nft table), keeps one charon's conns and secrets in step with the policy over VICI, follows the
// spoke tunnels' SAs (child-updown/ike-updown) to move the data centre's new connections to a spoke's
// first tunnel that is up, and runs the STAMP reflector on the hub's addresses. Every side effect comes
// in through HubDeps.
import type { Logger } from 'pino'
import type { KernelPort, NftPort } from '../dataplane/ports.js'
import type { XfrmInterfacePort } from '../dataplane/ipsec/xfrm-interface.js'
import type { ViciClient } from '../dataplane/vici/client.js'
import type { IkeSaState } from '../dataplane/vici/sa-state.js'
import type { ReflectorServer } from '../../probes/stamp/reflector-server.js'
import { describeOp } from '../dataplane/ops.js'
import { hubKeyLoad, renderHubConn, type HubCertificate, type RenderedHubConn, type SpokeCredential } from './hub-conn.js'
import { hubKernelOps } from './kernel-ops.js'
import { HUB_LINK_PREFIX, HUB_NFT_TABLE } from './ownership.js'
import { planHub, type HubPlan } from './plan.js'
import type { HubPolicy } from './policy.js'
import { hubStatus, type HubStatus } from './status.js'
import { serialQueue } from '../serial-queue.js'

export interface HubCharon {
  start(): Promise<unknown>
  stop(): Promise<void>
}

export interface HubDeps {
  /** Rules and routes in the hub's ranges (dataplane/rtnl/port.ts over HUB_OWNERSHIP). */
  readonly kernel: Pick<KernelPort, 'dump' | 'apply'>
  readonly nft: Pick<NftPort, 'load' | 'remove'>
  readonly xfrm: XfrmInterfacePort
  /** Writes one /proc/sys/net value (path relative to /proc/sys/net, e.g. ipv4/conf/swh1/rp_filter). */
  readonly sysctl: (path: string, value: string) => Promise<void>
  readonly readFile: (path: string) => Promise<Uint8Array>
  readonly charon: HubCharon
  /** A fresh command connection to charon's VICI socket. */
  readonly vici: () => Promise<ViciClient>
  readonly reflect: (address: string, port: number, authKey: Buffer | undefined) => Promise<ReflectorServer>
  readonly readAuthKey: (path: string) => Promise<Buffer>
  /** Packets through an interface (sysfs statistics); undefined when it is gone. */
  readonly counters: (device: string) => Promise<{ rxPackets: number; txPackets: number } | undefined>
  readonly log: Logger
  readonly wallNow: () => number
}

const isUp = (sas: readonly IkeSaState[], key: string): boolean =>
  sas.some(sa => sa.name === key && sa.state === 'ESTABLISHED' && sa.children.some(c => c.name === key && c.state === 'INSTALLED'))

export class HubDaemon {
  private plan: HubPlan
  private up = new Set<string>()
  private sas: IkeSaState[] = []
  private loaded = new Map<string, string>()
  private readonly reflectors = new Map<string, ReflectorServer>()
  private reflectorKey = ''
  private readonly since = new Map<string, number>()
  /** One change at a time: a reload and an SA event must not apply half of each other. */
  private readonly serial = serialQueue()

  constructor(
    private policy: HubPolicy,
    private readonly deps: HubDeps,
  ) {
    this.plan = planHub(policy, this.up)
  }

  /** Programs the kernel, starts charon with every conn and the reflector. Throws when any of it fails. */
  start(): Promise<void> {
    return this.serial(async () => {
      // A hub forwards between its tunnels and the data centre by definition.
      await this.deps.sysctl('ipv4/ip_forward', '1')
      await this.applyKernel()
      await this.deps.charon.start()
      await this.loadConns()
      await this.syncReflectors()
      this.deps.log.info({ serial: this.policy.serial, tunnels: this.plan.tunnels.length }, 'hub started')
    })
  }

  /** Switches to a validated policy; on failure the error propagates and what was applied stays. */
  reload(next: HubPolicy): Promise<void> {
    return this.serial(async () => {
      const before = this.policy
      this.policy = next
      try {
        this.plan = planHub(next, this.up)
        await this.applyKernel()
        await this.loadConns()
        await this.syncReflectors()
      } catch (err) {
        // Back to the running policy's state, as far as the kernel and charon take it.
        this.policy = before
        this.plan = planHub(before, this.up)
        await this.applyKernel().catch(e => this.deps.log.error({ err: e }, 'restoring the running policy’s kernel state failed'))
        await this.loadConns().catch(e => this.deps.log.error({ err: e }, 'restoring the running policy’s conns failed'))
        await this.syncReflectors().catch(e => this.deps.log.error({ err: e }, 'restoring the running policy’s reflector failed'))
        throw err
      }
      this.deps.log.info({ serial: next.serial, tunnels: this.plan.tunnels.length }, 'hub policy reloaded')
    })
  }

  /** charon came back after a crash: it starts empty, so every conn and secret is loaded again. */
  charonRestarted(): Promise<void> {
    return this.serial(async () => {
      this.loaded.clear()
      await this.loadConns()
      this.deps.log.warn({}, 'charon restarted: spoke tunnel conns loaded again')
    })
  }

  /** Reads the SAs again (after an up/down event) and re-routes the spokes whose first tunnel changed. */
  refreshSas(): Promise<void> {
    return this.serial(async () => {
      const client = await this.deps.vici()
      try {
        // Blocking: the updown event that brought us here is sent while charon still holds the SA, and a
        // noblock listing would skip it (vici/client.ts listSas), leaving the tunnel reported down.
        this.sas = await client.listSas()
      } finally {
        client.close()
      }
      const now = new Set(this.plan.tunnels.filter(t => isUp(this.sas, t.key)).map(t => t.key))
      const changed = this.plan.tunnels.filter(t => now.has(t.key) !== this.up.has(t.key))
      if (changed.length === 0) return
      for (const t of changed) {
        this.since.set(t.key, this.deps.wallNow())
        const sa = this.sas.find(s => s.name === t.key)
        this.deps.log.info({ tunnel: t.key, device: t.device, remote: sa?.remoteHost }, now.has(t.key) ? 'spoke tunnel up' : 'spoke tunnel down')
      }
      this.up = now
      this.plan = planHub(this.policy, this.up)
      await this.applyRouting()
    })
  }

  async status(): Promise<HubStatus> {
    const counters = new Map(await Promise.all(this.plan.tunnels.map(async t => [t.device, await this.deps.counters(t.device)] as const)))
    return hubStatus(this.policy, this.plan, this.up, this.sas, this.since, counters, [...this.reflectors.values()])
  }

  /** Stops the reflector and charon (its SAs go with it, so the tunnels' interfaces drop); `flush` also
   *  removes the interfaces, rules, routes and nft table. */
  stop(flush: boolean): Promise<void> {
    return this.serial(async () => {
      await Promise.all([...this.reflectors.values()].map(r => r.close()))
      this.reflectors.clear()
      await this.deps.charon.stop()
      if (!flush) return
      const have = await this.deps.kernel.dump()
      await this.applyOps(hubKernelOps({ rules: [], routes: [] }, have))
      await this.deps.nft.remove(HUB_NFT_TABLE)
      for (const l of await this.deps.xfrm.list()) if (l.name.startsWith(HUB_LINK_PREFIX)) await this.deps.xfrm.remove(l.name)
      this.deps.log.info({}, 'hub state flushed')
    })
  }

  private async applyKernel(): Promise<void> {
    for (const i of this.plan.interfaces) {
      await this.deps.xfrm.ensure(i)
      // A spoke's replies may arrive on any of its tunnels while the data centre's route to its LAN names
      // one: strict reverse-path filtering would drop the others' packets, loose mode keeps the check.
      await this.deps.sysctl(`ipv4/conf/${i.name}/rp_filter`, '2')
    }
    await this.applyRouting()
    await this.deps.nft.load(HUB_NFT_TABLE, this.plan.nft)
    const wanted = new Set(this.plan.interfaces.map(i => i.name))
    for (const l of await this.deps.xfrm.list()) {
      if (l.name.startsWith(HUB_LINK_PREFIX) && !wanted.has(l.name)) {
        await this.deps.xfrm.remove(l.name)
        this.deps.log.info({ device: l.name }, 'removed the xfrm interface of a tunnel no longer in the policy')
      }
    }
  }

  private async applyRouting(): Promise<void> {
    await this.applyOps(hubKernelOps(this.plan, await this.deps.kernel.dump()))
  }

  private async applyOps(ops: ReturnType<typeof hubKernelOps>): Promise<void> {
    if (ops.length === 0) return
    const errors = await this.deps.kernel.apply(ops)
    const failed = errors.flatMap((e, i) => (e ? [`${describeOp(ops[i]!)}: ${e.message}`] : []))
    if (failed.length > 0) throw new Error(`the kernel refused ${failed.length} of ${ops.length} changes: ${failed.join('; ')}`)
    this.deps.log.debug({ ops: ops.map(describeOp) }, 'hub routing applied')
  }

  /** Loads new and changed conns with their secrets, unloads conns no longer in the policy. */
  private async loadConns(): Promise<void> {
    const rendered = await this.render()
    const client = await this.deps.vici()
    try {
      if (this.policy.certificate && this.loaded.size === 0) await client.loadKey(hubKeyLoad(await this.hubCertificate()))
      for (const conn of rendered) {
        const digest = JSON.stringify(conn, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v))
        if (this.loaded.get(conn.name) === digest) continue
        for (const secret of conn.shared) await client.loadShared(secret)
        await client.loadConn(conn.name, conn.loadConn)
        this.loaded.set(conn.name, digest)
        this.deps.log.info({ tunnel: conn.name }, 'spoke tunnel conn loaded')
      }
      const keep = new Set(rendered.map(c => c.name))
      for (const name of [...this.loaded.keys()].filter(n => !keep.has(n))) {
        await client.terminate({ ike: name, force: true, timeoutMs: -1 }).catch(() => undefined)
        await client.unloadConn(name)
        await client.unloadShared(`psk-${name}`).catch(() => undefined)
        this.loaded.delete(name)
        this.deps.log.info({ tunnel: name }, 'spoke tunnel conn unloaded')
      }
    } finally {
      client.close()
    }
  }

  private async render(): Promise<RenderedHubConn[]> {
    const hubCert = this.policy.certificate ? await this.hubCertificate() : undefined
    return Promise.all(
      this.plan.tunnels.map(async t => {
        const credential: SpokeCredential =
          'pskFile' in t.tunnel.auth
            ? { psk: Buffer.from(await this.deps.readFile(t.tunnel.auth.pskFile)).toString('utf8').trim() }
            : { caCert: await this.deps.readFile(t.tunnel.auth.caFile) }
        return renderHubConn(this.policy, t, credential, hubCert)
      }),
    )
  }

  private async hubCertificate(): Promise<HubCertificate> {
    const c = this.policy.certificate!
    const [cert, key] = await Promise.all([this.deps.readFile(c.certFile), this.deps.readFile(c.keyFile)])
    return { cert, key }
  }

  private async syncReflectors(): Promise<void> {
    const { port, authKeyFile } = this.policy.reflector
    const authKey = authKeyFile ? await this.deps.readAuthKey(authKeyFile) : undefined
    const settings = `${port}|${authKey?.toString('hex') ?? ''}`
    if (settings !== this.reflectorKey) {
      await Promise.all([...this.reflectors.values()].map(r => r.close()))
      this.reflectors.clear()
      this.reflectorKey = settings
    }
    const wanted = new Set(this.plan.reflectorAddresses)
    for (const [address, server] of this.reflectors) {
      if (!wanted.has(address)) {
        await server.close()
        this.reflectors.delete(address)
      }
    }
    for (const address of wanted) {
      if (this.reflectors.has(address)) continue
      this.reflectors.set(address, await this.deps.reflect(address, port, authKey))
      this.deps.log.info({ address, port, authenticated: authKey !== undefined }, 'reflector listening')
    }
  }
}
