// The dataplane as the daemon drives it: a policy, the steering decisions, and the uplink facts the
// kernel reports, turned into desired states and handed to the reconciler.
//
// Facts are re-read when a link or address changes (DHCP renewals, carrier loss); the Facts object
// is replaced only when its content changed, so desired() keeps returning the very same route array
// and a re-steer stays a rule-only diff.
import { isDeepStrictEqual } from 'node:util'
import type { SitePolicy } from '../config/policy.js'
import { desired } from './desired.js'
import { uplinkFacts } from './facts.js'
import { policyHasDomains } from './dns/domains.js'
import type { Decision, Facts } from './model.js'
import type { KernelPort } from './ports.js'
import type { ApplyReport, DataplaneLog, Reconciler } from './reconciler.js'

/** Something that learns domain-set elements while a policy with `domains` selectors is active. */
export interface DomainLearner {
  start(): Promise<void>
  stop(): void
}

export class DataplaneController {
  private policy: SitePolicy | undefined
  private decisions: readonly Decision[] = []
  private facts: Facts = {}
  private unwatch: (() => void) | undefined
  private refreshing: Promise<void> | undefined
  private refreshAgain = false
  private learner: DomainLearner | undefined

  constructor(
    private readonly kernel: KernelPort,
    private readonly reconciler: Reconciler,
    private readonly log: DataplaneLog,
    /** Builds the DNS snooper for a policy that has domain selectors (dns/snooper.ts). */
    private readonly learnerFor?: (policy: SitePolicy) => DomainLearner,
  ) {}

  /** Programs `policy` with `decisions`, then keeps it programmed (restores, fact changes). */
  async start(policy: SitePolicy, decisions: readonly Decision[]): Promise<ApplyReport> {
    this.policy = policy
    this.decisions = decisions
    this.facts = uplinkFacts(policy, await this.kernel.facts())
    this.reconciler.watch()
    this.unwatch ??= this.kernel.watch(e => {
      if (e.kind === 'link-changed' || e.kind === 'address-changed') void this.refreshFacts()
    })
    const report = await this.apply()
    await this.restartLearner(policy)
    return report
  }

  /** New steering decisions: fib rule changes only. */
  steer(decisions: readonly Decision[]): Promise<ApplyReport> {
    this.decisions = decisions
    return this.apply()
  }

  /** A new policy (validated): may rewrite routes and the nft table. */
  async setPolicy(policy: SitePolicy, decisions: readonly Decision[]): Promise<ApplyReport> {
    this.policy = policy
    this.decisions = decisions
    this.facts = uplinkFacts(policy, await this.kernel.facts())
    const report = await this.apply()
    await this.restartLearner(policy)
    return report
  }

  private async restartLearner(policy: SitePolicy): Promise<void> {
    this.learner?.stop()
    this.learner = policyHasDomains(policy) ? this.learnerFor?.(policy) : undefined
    await this.learner?.start()
  }

  /** Stops watching; with `flush`, removes everything we own. */
  async stop(flush: boolean): Promise<ApplyReport | undefined> {
    this.unwatch?.()
    this.unwatch = undefined
    this.learner?.stop()
    this.learner = undefined
    this.reconciler.stop()
    return flush ? this.reconciler.set(null) : undefined
  }

  private apply(): Promise<ApplyReport> {
    if (!this.policy) throw new Error('dataplane controller has no policy yet')
    return this.reconciler.set(desired(this.policy, this.decisions, this.facts))
  }

  private refreshFacts(): Promise<void> {
    if (!this.policy) return Promise.resolve()
    // Bursts of link/address events collapse into one re-read; one arriving during a re-read
    // (which may have missed it) earns exactly one more.
    if (this.refreshing) {
      this.refreshAgain = true
      return this.refreshing
    }
    this.refreshing = this.reread().finally(() => {
      this.refreshing = undefined
      if (this.refreshAgain) {
        this.refreshAgain = false
        void this.refreshFacts()
      }
    })
    return this.refreshing
  }

  private async reread(): Promise<void> {
    try {
      const kernelFacts = await this.kernel.facts()
      const policy = this.policy
      if (!policy) return
      const fresh = uplinkFacts(policy, kernelFacts)
      if (isDeepStrictEqual(fresh, this.facts)) return
      this.log('dataplane.facts-changed', { facts: fresh })
      this.facts = fresh
      await this.apply()
    } catch (error) {
      this.log('dataplane.facts-failed', { error: (error as Error).message })
    }
  }
}
