// KernelPort over rtnetlink (the `netlink` package): dumps what we own, applies ops pipelined, reads
// uplink facts, and forwards notifications about our objects and the links they depend on.
import { createRtNetlink, rt, type RtNetlinkSocket } from 'netlink'
import type { KernelError } from '../errors.js'
import type { GreLink, VxlanLink } from '../model.js'
import type { ActualState, KernelOp } from '../ops.js'
import type { KernelEvent, KernelFacts, KernelPort, LinkState, Ownership } from '../ports.js'
import {
  addressAddRequest,
  addressText,
  decodeGre,
  decodeRoute,
  decodeRule,
  decodeVxlan,
  greCreateRequest,
  linkDeleteRequest,
  routeRequest,
  ruleRequest,
  vxlanCreateRequest,
  type Request,
} from './codec.js'
import { localError, opError, requestError } from './errno.js'
import { RtnlTransport } from './transport.js'

const RT_TABLE_MAIN = 254

interface Link extends LinkState {
  linkinfo?: Buffer
}

export class RtnlKernelPort implements KernelPort {
  private readonly transport: RtnlTransport
  private lock: Promise<unknown> = Promise.resolve()
  private watcher: RtNetlinkSocket | undefined
  private readonly listeners = new Set<(e: KernelEvent) => void>()

  constructor(
    private readonly own: Ownership,
    private readonly socket: RtNetlinkSocket = createRtNetlink(),
  ) {
    this.transport = new RtnlTransport(socket.socket)
  }

  /** Runs socket work one piece at a time (dumps and batches must not interleave on one socket). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn)
    this.lock = run.catch(() => undefined)
    return run
  }

  private async links(): Promise<Link[]> {
    try {
      const msgs = await this.socket.getLinks()
      return msgs.map(m => ({
        name: m.attrs.ifname ?? '',
        index: m.data.index ?? 0,
        up: !!m.data.flags?.up,
        carrier: !!m.data.flags?.lowerUp,
        mtu: m.attrs.mtu ?? 0,
        ...(m.attrs.linkinfo ? { linkinfo: m.attrs.linkinfo } : {}),
      }))
    } catch (err) {
      throw requestError('dump links', err)
    }
  }

  private async addresses(): Promise<KernelFacts['addresses'] extends Array<infer A> ? Array<A & { index: number }> : never> {
    try {
      const msgs = await this.socket.getAddresses()
      return msgs.flatMap(m => {
        const bytes = m.attrs.local ?? m.attrs.address
        if (!bytes) return []
        const family = bytes.length === 4 ? (4 as const) : (6 as const)
        return [{ link: m.attrs.label ?? '', index: m.data.index ?? 0, family, address: `${addressText(bytes)}/${m.data.prefixlen ?? 0}` }]
      })
    } catch (err) {
      throw requestError('dump addresses', err)
    }
  }

  async dump(): Promise<Omit<ActualState, 'nftDigest'>> {
    return this.serial(() => this.dumpNow())
  }

  private async dumpNow(): Promise<Omit<ActualState, 'nftDigest'>> {
    // One dump at a time: the netlink package reassembles a single multipart reply per socket.
    const links = await this.links()
    const ruleMsgs = await this.socket.getRules().catch(err => {
      throw requestError('dump rules', err)
    })
    const routeMsgs = await this.socket.getRoutes().catch(err => {
      throw requestError('dump routes', err)
    })
    const names = new Map(links.map(l => [l.index, l.name]))
    const rules = ruleMsgs.flatMap(m => decodeRule(m, this.own) ?? [])
    const routes = routeMsgs.flatMap(m => decodeRoute(m, this.own, i => names.get(i)) ?? [])
    const ours = links.filter(l => l.name.startsWith(this.own.tunnelPrefix) && l.linkinfo)
    let greLinks: GreLink[] = []
    let vxlanLinks: VxlanLink[] = []
    if (ours.length) {
      const addrs = await this.addresses()
      // IPv6 link-local addresses are the kernel's own (addrconf gives one to every Ethernet and GRE
      // device), never part of what we asked for.
      const inner = (l: Link): string[] => addrs.filter(a => a.index === l.index && !a.address.startsWith('fe80:')).map(a => a.address)
      greLinks = ours.flatMap(l => decodeGre(l.name, l.mtu, l.linkinfo, inner(l)) ?? [])
      vxlanLinks = ours.flatMap(l => decodeVxlan(l.name, l.mtu, l.linkinfo, inner(l)) ?? [])
    }
    return { rules, routes, greLinks, vxlanLinks }
  }

  apply(ops: readonly KernelOp[]): Promise<Array<KernelError | undefined>> {
    return this.serial(() => this.applyNow(ops))
  }

  private async applyNow(ops: readonly KernelOp[]): Promise<Array<KernelError | undefined>> {
    const results: Array<KernelError | undefined> = new Array(ops.length).fill(undefined)
    const needsLinks = ops.some(op => op.kind.endsWith('-gre') || op.kind.endsWith('-vxlan') || ((op.kind === 'add-route' || op.kind === 'replace-route') && op.route.device))
    let byName = new Map<string, number>()
    if (needsLinks) byName = new Map((await this.links()).map(l => [l.name, l.index]))
    // Runs of rule/route ops go out pipelined; link ops (rare: tunnels) go one by one, since the
    // ops after them need the new link's index.
    let batch: Array<{ i: number; req: Request }> = []
    const flush = async (): Promise<void> => {
      if (!batch.length) return
      const errnos = await this.exchange(batch.map(b => b.req))
      batch.forEach((b, k) => (results[b.i] = opError(ops[b.i]!, errnos[k]!)))
      batch = []
    }
    for (const [i, op] of ops.entries()) {
      switch (op.kind) {
        case 'add-rule':
        case 'del-rule':
          batch.push({ i, req: ruleRequest(op.rule, op.kind === 'add-rule', this.own.routeProtocol) })
          break
        case 'add-route':
        case 'replace-route':
        case 'del-route': {
          const dev = op.route.device
          const ifindex = dev !== undefined ? byName.get(dev) : undefined
          if (op.kind !== 'del-route' && op.route.type === 'unicast' && dev !== undefined && ifindex === undefined) {
            results[i] = localError(op, 'ENODEV', `no device ${dev}`)
            break
          }
          const verb = op.kind === 'add-route' ? 'add' : op.kind === 'replace-route' ? 'replace' : 'delete'
          batch.push({ i, req: routeRequest(op.route, verb, this.own.routeProtocol, ifindex) })
          break
        }
        case 'add-gre':
        case 'add-vxlan': {
          await flush()
          results[i] = await this.createLink(op, byName)
          break
        }
        case 'del-gre':
        case 'del-vxlan': {
          await flush()
          const index = byName.get(op.link.name)
          if (index !== undefined) results[i] = opError(op, (await this.exchange([linkDeleteRequest(index)]))[0]!)
          byName.delete(op.link.name)
          break
        }
      }
    }
    await flush()
    return results
  }

  private async createLink(op: Extract<KernelOp, { kind: 'add-gre' | 'add-vxlan' }>, byName: Map<string, number>): Promise<KernelError | undefined> {
    const [errno = 0] = await this.exchange([op.kind === 'add-gre' ? greCreateRequest(op.link) : vxlanCreateRequest(op.link)])
    const err = opError(op, errno)
    if (err) return err
    const link = (await this.links()).find(l => l.name === op.link.name)
    if (!link) return localError(op, 'ENODEV', 'created link vanished')
    byName.set(link.name, link.index)
    const errnos = await this.exchange(op.link.innerAddresses.map(a => addressAddRequest(link.index, a)))
    const bad = errnos.find(e => e !== 0 && e !== -17)
    return bad === undefined ? undefined : opError(op, bad)
  }

  private async exchange(reqs: Request[]): Promise<number[]> {
    try {
      return await this.transport.exchange(reqs)
    } catch (err) {
      throw requestError('send', err)
    }
  }

  facts(): Promise<KernelFacts> {
    return this.serial(() => this.factsNow())
  }

  private async factsNow(): Promise<KernelFacts> {
    const links = await this.links()
    const addrs = await this.addresses()
    const routes = await this.socket.getRoutes().catch(err => {
      throw requestError('dump routes', err)
    })
    const names = new Map(links.map(l => [l.index, l.name]))
    const defaultRoutes = routes.flatMap(m => {
      const table = m.attrs.table ?? m.data.table
      if (table !== RT_TABLE_MAIN) return []
      if ((m.data.dstLen ?? 0) !== 0 || !m.attrs.gateway || m.attrs.oif === undefined) return []
      const link = names.get(m.attrs.oif)
      if (!link) return []
      return [{ link, family: m.attrs.gateway.length === 4 ? (4 as const) : (6 as const), gateway: addressText(m.attrs.gateway) }]
    })
    return {
      links: links.map(({ linkinfo: _ignored, ...l }) => l),
      addresses: addrs.map(a => ({ link: names.get(a.index) ?? a.link, family: a.family, address: a.address })),
      defaultRoutes,
    }
  }

  watch(listener: (e: KernelEvent) => void): () => void {
    this.listeners.add(listener)
    if (!this.watcher) this.watcher = this.openWatcher()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0 && this.watcher) {
        this.watcher.socket.close()
        this.watcher = undefined
      }
    }
  }

  /** One notification socket for every listener, so notifications never interleave with our requests. */
  private openWatcher(): RtNetlinkSocket {
    const w = createRtNetlink({ ref: true } as Parameters<typeof createRtNetlink>[0])
    for (const g of ['LINK', 'IPV4_IFADDR', 'IPV6_IFADDR', 'IPV4_RULE', 'IPV6_RULE', 'IPV4_ROUTE', 'IPV6_ROUTE'] as const) w.addMembership(g)
    const names = new Map<number, string>()
    const emit = (e: KernelEvent): void => {
      for (const l of [...this.listeners]) l(e)
    }
    // The raw socket's messages keep their netlink type, which tells a deletion from an addition.
    w.socket.on('message', msgs => {
      for (const raw of msgs) {
        let m: rt.Message
        try {
          m = rt.parseMessage(raw.type, raw.data)
        } catch {
          continue
        }
        if (m.kind === 'link') {
          const index = m.data.index ?? -1
          const name = m.attrs.ifname ?? names.get(index) ?? ''
          names.set(index, name)
          emit({ kind: 'link-changed', link: name })
        } else if (m.kind === 'address') {
          emit({ kind: 'address-changed', link: m.attrs.label ?? names.get(m.data.index ?? -1) ?? '' })
        } else if (m.kind === 'rule') {
          const rule = decodeRule(m, this.own)
          if (rule) emit({ kind: raw.type === rt.MessageType.DELRULE ? 'rule-deleted' : 'rule-added', rule })
        } else if (m.kind === 'route') {
          const route = decodeRoute(m, this.own, i => names.get(i))
          if (route) emit({ kind: raw.type === rt.MessageType.DELROUTE ? 'route-deleted' : 'route-added', route })
        }
      }
    })
    return w
  }

  close(): void {
    this.listeners.clear()
    this.watcher?.socket.close()
    this.watcher = undefined
    this.socket.socket.close()
  }
}
