// A fake kernel behind KernelPort and NftPort: holds rules, routes, links and nft tables like the
// kernel does (our objects and other people's), answers with the same errnos, and renders what it
// holds as sorted text for golden comparisons.
import { KernelError } from '../../../../edge/dataplane/errors.js'
import type { FibRule, GreLink, Route, VxlanLink } from '../../../../edge/dataplane/model.js'
import { describeRoute, describeRule, routeKey, ruleKey, type ActualState, type KernelOp } from '../../../../edge/dataplane/ops.js'
import type { KernelEvent, KernelFacts, KernelPort, NftPort, Ownership } from '../../../../edge/dataplane/ports.js'
import { opError } from '../../../../edge/dataplane/rtnl/errno.js'

interface FakeRoute extends Route {
  protocol: number
}

export class FakeKernel implements KernelPort, NftPort {
  rules: FibRule[] = []
  routes: FakeRoute[] = []
  greLinks: GreLink[] = []
  vxlanLinks: VxlanLink[] = []
  /** Link name → up. Routes through a missing link fail ENODEV, through a down one ENETDOWN. */
  links = new Map<string, boolean>()
  nftTables = new Map<string, string>()
  /** What facts() reports besides links: addresses per link, main-table default routes. */
  addresses: KernelFacts['addresses'] = []
  defaultRoutes: KernelFacts['defaultRoutes'] = []
  /** Kernel calls made, for counting. */
  calls = { apply: 0, ops: 0, nftLoads: 0 }
  private listeners: Array<(e: KernelEvent) => void> = []

  constructor(private readonly own: Ownership) {}

  private inRange = (n: number, r: { from: number; to: number }): boolean => n >= r.from && n <= r.to

  async dump(): Promise<Omit<ActualState, 'nftDigest'>> {
    return {
      rules: this.rules.filter(r => this.inRange(r.priority, this.own.rulePriorities)).map(r => ({ ...r, comment: '' })),
      routes: this.routes
        .filter(r => this.inRange(r.table, this.own.tables) && r.protocol === this.own.routeProtocol)
        .map(({ protocol: _p, ...r }) => ({ ...r, comment: '' })),
      greLinks: this.greLinks.map(l => ({ ...l })),
      vxlanLinks: this.vxlanLinks.map(l => ({ ...l })),
    }
  }

  private errno(op: KernelOp): number {
    switch (op.kind) {
      case 'add-rule':
        if (this.rules.some(r => ruleKey(r) === ruleKey(op.rule))) return -17
        this.rules.push({ ...op.rule, comment: '' })
        return 0
      case 'del-rule': {
        const i = this.rules.findIndex(r => ruleKey(r) === ruleKey(op.rule))
        if (i < 0) return -2
        this.rules.splice(i, 1)
        return 0
      }
      case 'add-route':
      case 'replace-route': {
        const dev = op.route.device
        if (op.route.type === 'unicast' && dev !== undefined) {
          if (!this.links.has(dev) && !this.tunnelLink(dev)) return -19
          if (this.links.get(dev) === false) return -100
        }
        const i = this.routes.findIndex(r => routeKey(r) === routeKey(op.route))
        if (i >= 0 && op.kind === 'add-route') return -17
        if (i >= 0) this.routes.splice(i, 1)
        this.routes.push({ ...op.route, comment: '', protocol: this.own.routeProtocol })
        return 0
      }
      case 'del-route': {
        const i = this.routes.findIndex(r => routeKey(r) === routeKey(op.route) && r.protocol === this.own.routeProtocol)
        if (i < 0) return -3
        this.routes.splice(i, 1)
        return 0
      }
      // Device names are one namespace across kinds, as in the kernel.
      case 'add-gre':
        if (this.tunnelLink(op.link.name)) return -17
        this.greLinks.push({ ...op.link })
        return 0
      case 'add-vxlan':
        if (this.tunnelLink(op.link.name)) return -17
        // vxlan_validate/vxlan_config_validate: one device per (VNI, port, local address) in a namespace.
        if (this.vxlanLinks.some(l => l.vni === op.link.vni && l.port === op.link.port && l.local === op.link.local)) return -17
        this.vxlanLinks.push({ ...op.link })
        return 0
      case 'del-gre': {
        const before = this.greLinks.length
        this.greLinks = this.greLinks.filter(l => l.name !== op.link.name)
        return this.linkGone(op.link.name, before !== this.greLinks.length)
      }
      case 'del-vxlan': {
        const before = this.vxlanLinks.length
        this.vxlanLinks = this.vxlanLinks.filter(l => l.name !== op.link.name)
        return this.linkGone(op.link.name, before !== this.vxlanLinks.length)
      }
    }
  }

  private tunnelLink(name: string): GreLink | VxlanLink | undefined {
    return this.greLinks.find(l => l.name === name) ?? this.vxlanLinks.find(l => l.name === name)
  }

  /** Like the kernel, a vanished device takes its routes with it; deleting a missing one is ENODEV. */
  private linkGone(name: string, existed: boolean): number {
    this.routes = this.routes.filter(r => r.device !== name)
    return existed ? 0 : -19
  }

  async apply(ops: readonly KernelOp[]): Promise<Array<KernelError | undefined>> {
    this.calls.apply++
    this.calls.ops += ops.length
    const results = ops.map(op => {
      const errno = this.errno(op)
      if (errno === 0) this.announce(op)
      return opError(op, errno)
    })
    this.duringApply?.()
    return results
  }

  /** Called inside apply(), after the ops: lets a test change things while a converge is under way. */
  duringApply: (() => void) | undefined

  /** Like rtnetlink, every change is announced to watchers, a little later (another socket). */
  private announce(op: KernelOp): void {
    const e: KernelEvent | undefined =
      op.kind === 'add-rule' ? { kind: 'rule-added', rule: op.rule }
      : op.kind === 'del-rule' ? { kind: 'rule-deleted', rule: op.rule }
      : op.kind === 'add-route' || op.kind === 'replace-route' ? { kind: 'route-added', route: op.route }
      : op.kind === 'del-route' ? { kind: 'route-deleted', route: op.route }
      : undefined
    if (e) setImmediate(() => this.listeners.forEach(l => l(e)))
  }

  async facts(): Promise<KernelFacts> {
    return {
      links: [...this.links].map(([name, up], index) => ({ name, index: index + 1, up, carrier: up, mtu: 1500 })),
      addresses: [...this.addresses],
      defaultRoutes: [...this.defaultRoutes],
    }
  }

  watch(listener: (e: KernelEvent) => void): () => void {
    this.listeners.push(listener)
    return () => (this.listeners = this.listeners.filter(l => l !== listener))
  }

  close(): void {
    this.listeners = []
  }

  async digest(table: string): Promise<string | null> {
    const text = this.nftTables.get(table)
    if (text === undefined) return null
    return /comment "([^"]*)"/.exec(text)?.[1] ?? ''
  }

  async load(table: string, text: string, after?: Promise<unknown>): Promise<void> {
    await after
    this.calls.nftLoads++
    this.nftTables.set(table, text)
  }

  async remove(table: string): Promise<void> {
    this.nftTables.delete(table)
  }

  /** Someone else deletes one of our rules (e.g. `ip rule del`); the kernel notifies. */
  externalDeleteRule(r: FibRule): void {
    this.rules = this.rules.filter(x => ruleKey(x) !== ruleKey(r))
    for (const l of this.listeners) l({ kind: 'rule-deleted', rule: r })
  }

  /** A link goes down: like IPv4's fib_sync_down_dev, its routes disappear. */
  setLink(name: string, up: boolean): void {
    this.links.set(name, up)
    const lost = up ? [] : this.routes.filter(r => r.device === name)
    this.routes = this.routes.filter(r => !lost.includes(r))
    for (const l of this.listeners) {
      l({ kind: 'link-changed', link: name })
      for (const { protocol: _p, ...route } of lost) l({ kind: 'route-deleted', route })
    }
  }

  /** Everything the fake holds, ours and foreign, one object per line, sorted. */
  render(): string {
    const lines = [
      ...this.rules.map(r => `rule ${describeRule(r)}`),
      ...this.routes.map(r => `route ${describeRoute(r)} proto ${r.protocol}`),
      ...this.greLinks.map(l => `gre ${l.name} ${l.kind} ${l.local} -> ${l.remote} key ${l.key ?? '-'} ttl ${l.ttl} mtu ${l.mtu}`),
      ...this.vxlanLinks.map(l => `vxlan ${l.name} vni ${l.vni} ${l.local} -> ${l.remote}:${l.port} ttl ${l.ttl} mtu ${l.mtu}`),
      ...[...this.nftTables].map(([name, text]) => `nft inet ${name} ${/comment "([^"]*)"/.exec(text)?.[1] ?? '(foreign)'}`),
    ]
    return lines.sort().join('\n') + '\n'
  }
}
