// The desired-state reconciler: set(desired) makes the kernel hold exactly what is desired of the
// objects we own, and reports what it reached; set(null) removes all of them. Safe to call again
// with the same input (the diff is then empty). A call starts from a fresh dump unless the
// reconciler is watching and saw nothing change since its last converge, so after a crash the next
// start converges from whatever the kernel holds.
//
// It also watches rtnetlink: when one of our rules or routes disappears (someone ran `ip rule del`,
// a link went down and took its routes with it) or a link/address changes, it re-applies the last
// desired state, at most once per `restoreIntervalMs`, and logs what it restored.
import type { DesiredState } from './model.js'
import { diff } from './diff.js'
import { describeOp, describeRoute, describeRule, isNftOp, routeKey, ruleKey, type ActualState, type KernelOp, type NftOp, type Op } from './ops.js'
import type { ConntrackPort, KernelEvent, KernelPort, NftPort, Ownership } from './ports.js'
import { fold, foldAll } from './reached.js'
import { pathValue } from './marks.js'

export interface ApplyReport {
  /** Every op attempted, in order. */
  ops: Op[]
  failed: Array<{ op: Op; error: Error }>
  /** What the kernel holds of ours now. */
  reached: ActualState
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export type DataplaneLog = (event: string, fields: Record<string, unknown>) => void

export interface ReconcilerDeps {
  kernel: KernelPort
  nft: NftPort
  own: Ownership
  log: DataplaneLog
  /** Evicts the flows of (class, path) pairs that lost their route (see conntrack.ts); absent: flows only re-route. */
  conntrack?: ConntrackPort
  now: () => number
  timers: Timers
  /** Minimum time between two restores (default 500 ms). */
  restoreIntervalMs?: number
}

export class Reconciler {
  private want: DesiredState | null | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private unwatch: (() => void) | undefined
  private restoreTimer: unknown
  private lastRestore = -Infinity
  /**
   * What the kernel holds of ours after the last converge, trusted instead of a fresh dump only while
   * watching: notifications then tell us about every change someone else makes in our ranges.
   * Dropped on any such change and after any failed op (the kernel's state is then uncertain).
   */
  private known: ActualState | undefined
  /**
   * Notifications our own ops will cause, not yet seen (event|key → count). rtnetlink announces
   * every change on the watch socket in the kernel's order, but possibly long after the ACK on the
   * request socket, even after a later converge: matching them one for one tells ours from others'.
   */
  private expected = new Map<string, number>()
  private converging = false
  /** Someone else changed our objects while a converge was under way: do not trust its result. */
  private dirty = false

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Reads what the kernel holds of ours. */
  async actual(): Promise<ActualState> {
    const [kernel, nftDigest] = await Promise.all([this.deps.kernel.dump(), this.deps.nft.digest(this.deps.own.nftTable)])
    return { ...kernel, nftDigest }
  }

  /** Converges the kernel to `want` (null: remove everything we own). Calls are serialised. */
  set(want: DesiredState | null): Promise<ApplyReport> {
    this.want = want
    const run = this.queue.then(() => this.converge(want))
    this.queue = run.catch(() => undefined)
    return run
  }

  private async converge(want: DesiredState | null): Promise<ApplyReport> {
    this.converging = true
    this.dirty = false
    try {
      return await this.convergeNow(want)
    } finally {
      this.converging = false
      this.dirty = false
    }
  }

  private async convergeNow(want: DesiredState | null): Promise<ApplyReport> {
    const cached = this.unwatch ? this.known : undefined
    this.known = undefined
    // A fresh dump is the truth; announcements still on their way from before it can only cause
    // one needless restore, never a wrong state.
    if (!cached) this.expected.clear()
    // The digest is one netlink round trip; knowing it first lets a needed `nft -f` start now and
    // spend its start-up while we dump, diff and add; it commits only once `gate` opens.
    const nftDigest = cached ? cached.nftDigest : await this.deps.nft.digest(this.deps.own.nftTable)
    let open!: () => void
    let shut!: (e: unknown) => void
    const gate = new Promise<void>((resolve, reject) => ((open = resolve), (shut = reject)))
    gate.catch(() => undefined)
    // Same test as diff()'s, on the same digest: an early load exists exactly when diff asks for one.
    // Replacing a table of ours waits for the rules (a new class must not be marked before its rule
    // exists, or it would reach the main table). Installing the first one need not: until now no
    // LAN traffic was classified and all of it used the main table, so a mark without its rule for
    // a few milliseconds changes nothing, and nft's parse and commit overlap the rule adds.
    const early = want && want.nftDigest !== nftDigest ? this.deps.nft.load(want.nftTable, want.nft, nftDigest === null ? undefined : gate) : undefined
    early?.catch(() => undefined)
    let reached: ActualState
    let ops: Op[]
    try {
      reached = cached ?? { ...(await this.deps.kernel.dump()), nftDigest }
      ops = diff(want, reached, this.deps.own.nftTable)
    } catch (error) {
      shut(error)
      throw error
    }
    const failed: ApplyReport['failed'] = []
    const applyKernel = async (run: KernelOp[]): Promise<void> => {
      if (!run.length) return
      // Expected before sending: the announcements may be read while we wait for the ACKs.
      for (const op of run) this.expectAnnouncement(op, +1)
      const errors = await this.deps.kernel.apply(run).catch(error => {
        for (const op of run) this.expectAnnouncement(op, -1)
        throw error
      })
      const ok: Op[] = []
      run.forEach((op, i) => {
        const error = errors[i]
        if (error) {
          failed.push({ op, error })
          this.expectAnnouncement(op, -1)
        } else ok.push(op)
      })
      reached = foldAll(reached, ok)
    }
    // diff() puts at most one nft op between the kernel adds and the kernel deletes.
    const at = ops.findIndex(isNftOp)
    const nftOp = at < 0 ? undefined : (ops[at] as NftOp)
    const before = (at < 0 ? ops : ops.slice(0, at)) as KernelOp[]
    const after = (at < 0 ? [] : ops.slice(at + 1)) as KernelOp[]
    const adds = applyKernel(before)
    adds.then(open, shut)
    if (nftOp) {
      // nft commits once the rules are in: a new class is never marked before its rules exist.
      const nftDone = nftOp.kind === 'load-nft' ? (early ?? this.deps.nft.load(nftOp.table, nftOp.text, gate)) : gate.then(() => this.deps.nft.remove(nftOp.table))
      await adds
      try {
        await nftDone
        reached = fold(reached, nftOp)
      } catch (error) {
        failed.push({ op: nftOp, error: error as Error })
      }
    } else await adds
    await applyKernel(after)
    if (want) await this.evict(want, ops, failed)
    for (const f of failed) this.deps.log('dataplane.op-failed', { op: describeOp(f.op), error: f.error.message })
    // Without failures the kernel holds exactly `want`; recording want's own arrays lets the next
    // diff skip whatever part the next desired state shares with it.
    if (!failed.length && !this.dirty) this.known = want ? { rules: want.rules, routes: want.routes, greLinks: want.greLinks, vxlanLinks: want.vxlanLinks, nftDigest: want.nftDigest } : reached
    return { ops, failed, reached }
  }

  /**
   * Evicts from conntrack the flows of each (class, path) pair that lost its route: a sticky rule
   * removed (the path left the class's `keep`), or a class rule moved off a path the class is not
   * sticky on — unless the new rules still send that pair's flows the same way.
   */
  private async evict(want: DesiredState, ops: Op[], failed: ApplyReport['failed']): Promise<void> {
    const conntrack = this.deps.conntrack
    if (!conntrack) return
    const m = want.marks
    const pathByTable = new Map(want.paths.map(p => [p.table, p]))
    const done = new Set<number>()
    for (const op of ops) {
      if (op.kind !== 'del-rule' || op.rule.fwmark === undefined || failed.some(f => f.op === op)) continue
      const path = pathByTable.get(op.rule.table)
      if (!path || path.kind === 'drop') continue
      let mark: number
      if (op.rule.fwmask === m.mask) mark = op.rule.fwmark
      else if (op.rule.fwmask === m.classMask) mark = (op.rule.fwmark | pathValue(m, path.id)) >>> 0
      else continue
      if (done.has(mark)) continue
      done.add(mark)
      const classBits = (mark & m.classMask) >>> 0
      const stays = want.rules.some(
        r => (r.fwmask === m.mask && r.fwmark === mark) || (r.fwmask === m.classMask && r.fwmark === classBits && r.table === path.table),
      )
      if (stays) continue
      try {
        await conntrack.evict(mark, m.mask)
        this.deps.log('dataplane.flows-evicted', { mark: '0x' + mark.toString(16) })
      } catch (error) {
        // The re-route already happened; only the NAT re-binding of those flows is missed.
        this.deps.log('dataplane.evict-failed', { mark: '0x' + mark.toString(16), error: (error as Error).message })
      }
    }
  }

  /** Starts restoring our objects when the kernel loses them. */
  watch(): void {
    if (this.unwatch) return
    // Changes made before the subscription went unseen: the next converge dumps afresh.
    this.known = undefined
    this.unwatch = this.deps.kernel.watch(e => {
      if (!this.foreignChange(e)) return
      this.known = undefined
      if (this.converging) this.dirty = true
      if (e.kind === 'rule-deleted') this.deps.log('dataplane.object-lost', { what: describeRule(e.rule) })
      if (e.kind === 'route-deleted') this.deps.log('dataplane.object-lost', { what: describeRoute(e.route) })
      this.scheduleRestore()
    })
  }

  /** The notification an op causes (EEXIST/ENOENT successes cause none: see the clear on dump). */
  private expectAnnouncement(op: KernelOp, delta: 1 | -1): void {
    const key = announcementOf(op)
    if (!key) return
    const n = (this.expected.get(key) ?? 0) + delta
    if (n > 0) this.expected.set(key, n)
    else this.expected.delete(key)
  }

  /** An announcement we were not expecting is someone else's doing (or a link/address change). */
  private foreignChange(e: KernelEvent): boolean {
    const key =
      e.kind === 'rule-added' || e.kind === 'rule-deleted' ? `${e.kind}|${ruleKey(e.rule)}`
      : e.kind === 'route-added' || e.kind === 'route-deleted' ? `${e.kind}|${routeKey(e.route)}`
      : undefined
    if (!key || !this.expected.has(key)) return true
    const n = this.expected.get(key)! - 1
    if (n > 0) this.expected.set(key, n)
    else this.expected.delete(key)
    return false
  }

  private scheduleRestore(): void {
    if (this.restoreTimer !== undefined || this.want === undefined) return
    const interval = this.deps.restoreIntervalMs ?? 500
    const wait = Math.max(0, this.lastRestore + interval - this.deps.now())
    this.restoreTimer = this.deps.timers.setTimeout(() => {
      this.restoreTimer = undefined
      this.lastRestore = this.deps.now()
      const want = this.want
      if (want === undefined) return
      this.set(want).then(
        report => {
          if (report.ops.length)
            this.deps.log('dataplane.restored', { ops: report.ops.map(describeOp), failed: report.failed.length })
        },
        (error: Error) => this.deps.log('dataplane.restore-failed', { error: error.message }),
      )
    }, wait)
  }

  /** Stops watching; the kernel keeps what it holds. */
  stop(): void {
    this.unwatch?.()
    this.unwatch = undefined
    this.known = undefined
    if (this.restoreTimer !== undefined) this.deps.timers.clearTimeout(this.restoreTimer)
    this.restoreTimer = undefined
  }
}

function announcementOf(op: KernelOp): string | undefined {
  switch (op.kind) {
    case 'add-rule':
      return `rule-added|${ruleKey(op.rule)}`
    case 'del-rule':
      return `rule-deleted|${ruleKey(op.rule)}`
    case 'add-route':
    case 'replace-route':
      return `route-added|${routeKey(op.route)}`
    case 'del-route':
      return `route-deleted|${routeKey(op.route)}`
    default:
      return undefined
  }
}
