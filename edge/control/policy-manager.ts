// Central management of the site policy: takes signed pushes (push-verdict.ts decides), applies them
// through the daemon's `applyPolicy`, and keeps the edge manageable. A new policy is on probation until
// a broker round trip made after applying it succeeds (`confirm` resolves: the 'applied' outcome got its
// PUBACK). If that does not happen within `graceMs` — the policy cut the edge off from the broker — the
// previous policy is applied again on the edge's own, and a 'rolled-back' outcome is spooled, to be
// delivered once the broker is reachable again. One push at a time: a push during probation is refused
// ('busy'). A restart during probation counts as a failed probation (the new policy may be what
// crashed the box): the last good policy runs and 'rolled-back' is reported.
import type { KeyObject } from 'node:crypto'
import { parsePolicy } from '../config/load.js'
import type { SitePolicy } from '../config/policy.js'
import type { Timers } from '../telemetry/timers.js'
import type { SignedPolicyEnvelope } from './policy-envelope.js'
import { rejectionOutcome, type PolicyOutcome } from './policy-outcome.js'
import { publicKeyFromBase64 } from './policy-signature.js'
import type { PolicyStore } from './policy-store.js'
import { judgePush } from './push-verdict.js'

export interface RunningPolicy {
  readonly policy: SitePolicy
  readonly text: string
  /** 'local': the provisioned policy file; 'pushed': a confirmed push. */
  readonly source: 'local' | 'pushed'
}

export interface PolicyManagerOptions {
  readonly store: PolicyStore
  /** The policy the box was provisioned with; runs when no pushed policy with a higher serial was confirmed. */
  readonly local: { readonly policy: SitePolicy; readonly text: string }
  /** The daemon's way of putting a policy into effect (dataplane, probes, telemetry settings). */
  readonly applyPolicy: (policy: SitePolicy, text: string) => Promise<void>
  /** Factory-installed policy signing keys (base64 raw Ed25519), trusted besides the running policy's. */
  readonly provisioningKeys?: readonly string[]
  /** How long a new policy has to prove the broker is still reachable; default 120 s. */
  readonly graceMs?: number
  readonly timers: Timers
  /** Resolves on a broker round trip carrying `applied` made after the call; rejects once `signal` aborts. */
  readonly confirm: (applied: PolicyOutcome, signal: AbortSignal) => Promise<void>
  /** Reports an outcome reliably (spooled until the broker takes it). */
  readonly report: (outcome: PolicyOutcome) => Promise<void>
  readonly log?: { warn(message: string): void }
}

export const DEFAULT_GRACE_MS = 120_000

export class PolicyManager {
  private current: RunningPolicy
  private serialFloor: number
  private probation: Promise<void> | undefined

  private constructor(
    private readonly options: PolicyManagerOptions,
    running: RunningPolicy,
    serialFloor: number,
  ) {
    this.current = running
    this.serialFloor = Math.max(serialFloor, running.policy.serial)
  }

  /** Loads the store and picks the policy to run; the daemon applies `running` at start. */
  static async open(options: PolicyManagerOptions): Promise<PolicyManager> {
    const stored = await options.store.load()
    const local: RunningPolicy = { ...options.local, source: 'local' }
    const pushed = stored.lastGood && parsePolicy('last-good', stored.lastGood.policy)
    const running = pushed?.ok && pushed.policy.serial >= local.policy.serial ? { policy: pushed.policy, text: stored.lastGood!.policy, source: 'pushed' as const } : local
    const manager = new PolicyManager(options, running, stored.serialFloor)
    if (stored.candidate) {
      await options.store.discardCandidate()
      const serial = parsePolicy('candidate', stored.candidate.policy)
      await options.report({
        outcome: 'rolled-back',
        serial: serial.ok ? serial.policy.serial : null,
        runningSerial: running.policy.serial,
        message: `the edge restarted while this policy was on probation; serial ${running.policy.serial} (${running.source}) runs instead`,
      })
    }
    return manager
  }

  get running(): RunningPolicy {
    return this.current
  }

  get onProbation(): boolean {
    return this.probation !== undefined
  }

  /** Resolves when the current probation (if any) ended in confirmation or rollback. */
  probationSettled(): Promise<void> {
    return this.probation ?? Promise.resolve()
  }

  /** Judges and, if accepted, applies a pushed envelope. Returns the immediate outcome for the reply. */
  async handlePush(bytes: Buffer): Promise<PolicyOutcome> {
    const runningSerial = this.current.policy.serial
    if (this.probation) {
      const outcome: PolicyOutcome = { outcome: 'rejected', reason: 'busy', serial: null, runningSerial, message: `serial ${runningSerial} is on probation until a broker round trip confirms it; push again after its outcome` }
      await this.options.report(outcome)
      return outcome
    }
    const verdict = judgePush(bytes, { trustedKeys: this.trustedKeys(), serialFloor: this.serialFloor, label: 'push' })
    if (!verdict.accepted) {
      const outcome = rejectionOutcome(verdict, runningSerial)
      await this.options.report(outcome)
      return outcome
    }
    const serial = verdict.policy.serial
    // From here until probation ends this push owns the manager: another is 'busy', and
    // probationSettled() waits for this one even while it is still being applied.
    let finish!: () => void
    this.probation = new Promise<void>(resolve => (finish = resolve))
    const settle = () => {
      this.probation = undefined
      finish()
    }
    try {
      // Spend the serial before touching anything: replaying this push can never apply it a second time.
      await this.options.store.raiseSerialFloor(serial)
      this.serialFloor = serial
      await this.options.store.saveCandidate(verdict.envelope)
    } catch (error) {
      settle()
      throw error
    }
    const previous = this.current
    try {
      await this.options.applyPolicy(verdict.policy, verdict.envelope.policy)
    } catch (error) {
      const restored = await this.reapply(previous)
      await this.options.store.discardCandidate()
      const outcome: PolicyOutcome = {
        outcome: 'apply-failed',
        serial,
        runningSerial: previous.policy.serial,
        message: `applying serial ${serial} failed: ${(error as Error).message}; ${restored}`,
      }
      await this.options.report(outcome)
      settle()
      return outcome
    }
    this.current = { policy: verdict.policy, text: verdict.envelope.policy, source: 'pushed' }
    const applied: PolicyOutcome = { outcome: 'applied', serial, runningSerial: serial, message: `serial ${serial} applied; on probation until a broker round trip confirms it` }
    void this.prove(verdict.envelope, applied, previous)
      .catch(error => this.options.log?.warn(`policy: probation of serial ${serial} ended in an error: ${(error as Error).message}`))
      .finally(settle)
    return applied
  }

  private async prove(envelope: SignedPolicyEnvelope, applied: PolicyOutcome, previous: RunningPolicy): Promise<void> {
    const graceMs = this.options.graceMs ?? DEFAULT_GRACE_MS
    const abort = new AbortController()
    const timer = this.options.timers.setTimeout(() => abort.abort(), graceMs)
    let reached = false
    try {
      await this.options.confirm(applied, abort.signal)
      reached = true
    } catch {
      reached = false
    }
    this.options.timers.clearTimeout(timer)
    const serial = applied.serial
    if (reached) {
      await this.options.store.promote(envelope)
      await this.options.report({ outcome: 'confirmed', serial, runningSerial: serial, message: `serial ${serial} reached the broker after being applied; it is now the last good policy` })
      return
    }
    const restored = await this.reapply(previous)
    await this.options.store.discardCandidate()
    this.current = previous
    await this.options.report({
      outcome: 'rolled-back',
      serial,
      runningSerial: previous.policy.serial,
      message: `serial ${serial} cut the edge off from the broker for ${graceMs / 1000} s; ${restored}`,
    })
  }

  private async reapply(previous: RunningPolicy): Promise<string> {
    try {
      await this.options.applyPolicy(previous.policy, previous.text)
      return `serial ${previous.policy.serial} (${previous.source}) runs again`
    } catch (error) {
      return `re-applying serial ${previous.policy.serial} failed too: ${(error as Error).message}`
    }
  }

  private trustedKeys(): KeyObject[] {
    const encoded = [this.current.policy.telemetry?.policySigningKey, ...(this.options.provisioningKeys ?? [])].filter((k): k is string => typeof k === 'string')
    const keys: KeyObject[] = []
    for (const k of encoded) {
      try {
        keys.push(publicKeyFromBase64(k))
      } catch {
        // The schema's pattern admits a few non-canonical base64 strings; such a key verifies nothing.
      }
    }
    return keys
  }
}
