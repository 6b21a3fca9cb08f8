// The PolicyManager with hand-driven timers and a fake confirm: which pushes are refused and why (with
// the running policy kept), apply and confirmation, rollback when the grace period passes without a
// broker round trip, apply failures, a restart during probation, and what survives a restart.
import { createPrivateKey } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { PolicyManager, type PolicyManagerOptions } from '../../../edge/control/policy-manager.js'
import type { PolicyOutcome } from '../../../edge/control/policy-outcome.js'
import { generateSigningKeyPair } from '../../../edge/control/policy-signature.js'
import { PolicyStore } from '../../../edge/control/policy-store.js'
import { validatePayload } from '../../../edge/telemetry/payload-schemas.js'
import type { Timers } from '../../../edge/telemetry/timers.js'
import { parsed, policyText, signedPush } from './helpers/policies.js'

const orchestratorKeys = generateSigningKeyPair()
const orchestratorKey = createPrivateKey(orchestratorKeys.privateKeyPem)
const attackerKey = createPrivateKey(generateSigningKeyPair().privateKeyPem)
const text = (serial: number) => policyText(serial, { signingKey: orchestratorKeys.publicKeyBase64 })

class HandTimers implements Timers {
  readonly pending = new Map<number, () => void>()
  private next = 1
  setTimeout(callback: () => void, _ms: number): unknown {
    const id = this.next++
    this.pending.set(id, callback)
    return id
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number)
  }
  fireAll(): void {
    for (const [id, callback] of [...this.pending]) {
      this.pending.delete(id)
      callback()
    }
  }
}

interface Harness {
  manager: PolicyManager
  applied: number[]
  reports: PolicyOutcome[]
  timers: HandTimers
  /** Resolve or reject the pending confirm, as a broker round trip would. */
  confirmations: Array<{ resolve: () => void; signal: AbortSignal }>
  options: PolicyManagerOptions
}

async function harness(t: Test, overrides: Partial<PolicyManagerOptions> & { stateDir?: string } = {}): Promise<Harness> {
  const stateDir = overrides.stateDir ?? (await fsp.mkdtemp(join(tmpdir(), 'sdwan-policy-test-')))
  t.teardown(() => fsp.rm(stateDir, { recursive: true, force: true }))
  const applied: number[] = []
  const reports: PolicyOutcome[] = []
  const confirmations: Harness['confirmations'] = []
  const timers = new HandTimers()
  const localText = text(7)
  const options: PolicyManagerOptions = {
    store: new PolicyStore(stateDir),
    local: { policy: parsed(localText), text: localText },
    applyPolicy: async policy => void applied.push(policy.serial),
    timers,
    graceMs: 5000,
    confirm: (_applied, signal) =>
      new Promise((resolve, reject) => {
        confirmations.push({ resolve, signal })
        signal.addEventListener('abort', () => reject(new Error('aborted')))
      }),
    report: async outcome => void reports.push(outcome),
    ...overrides,
  }
  return { manager: await PolicyManager.open(options), applied, reports, timers, confirmations, options }
}

function outcomeValid(t: Test, outcome: PolicyOutcome): void {
  const r = validatePayload('policy-outcome', { v: 1, ts: '2026-11-23T20:00:00.000Z', boot: '0123456789abcdef', seq: 1, ...outcome })
  t.ok(r.ok, `outcome matches its schema${r.ok ? '' : ': ' + r.problems.join('; ')}`)
}

t.test('refused pushes say why and leave the running policy alone', async t => {
  const h = await harness(t)
  const cases: Array<[string, Buffer, string, RegExp]> = [
    ['not JSON', Buffer.from('serial: 9'), 'malformed', /not JSON/],
    ['unsigned', Buffer.from(JSON.stringify({ format: 'sdwan-signed-policy/1', policy: text(9) })), 'malformed', /signature/],
    ['signed by another key', signedPush(text(9), attackerKey), 'signature', /does not verify/],
    ['tampered after signing', Buffer.from(JSON.stringify({ ...JSON.parse(signedPush(text(9), orchestratorKey).toString()), policy: text(9).replace('cost: 20', 'cost: 5') })), 'signature', /does not verify/],
    ['older serial', signedPush(text(6), orchestratorKey), 'serial', /serial 6 is not greater than 7/],
    ['same serial (replay of the running one)', signedPush(text(7), orchestratorKey), 'serial', /serial 7 is not greater than 7/],
  ]
  for (const [what, bytes, reason, message] of cases) {
    const outcome = await h.manager.handlePush(bytes)
    t.match(outcome, { outcome: 'rejected', reason, runningSerial: 7, message }, what)
    outcomeValid(t, outcome)
  }
  t.same(h.applied, [], 'nothing was applied')
  t.equal(h.manager.running.policy.serial, 7)
  t.equal(h.reports.length, cases.length, 'every refusal is reported')
})

t.test('an invalid policy is refused with line:column of each problem in the pushed text', async t => {
  const h = await harness(t)
  const broken = text(9).replace('cost: 20', 'cost: lots').replace('whenNoPath: best-effort', 'whenNoPath: maybe')
  const outcome = await h.manager.handlePush(signedPush(broken, orchestratorKey))
  t.match(outcome, { outcome: 'rejected', reason: 'invalid', serial: 9 })
  const lines = broken.split('\n')
  for (const e of outcome.errors ?? []) t.ok(lines[e.line - 1]!.length >= e.column - 1, `${e.line}:${e.column} ${e.message} points into the text`)
  t.ok(outcome.errors?.some(e => lines[e.line - 1]!.includes('cost: lots')), 'the bad cost is located')
  t.ok(outcome.errors?.some(e => lines[e.line - 1]!.includes('whenNoPath: maybe')), 'the bad whenNoPath is located')
  outcomeValid(t, outcome)
  t.same(h.applied, [])
})

t.test('a valid push is applied, confirmed by a round trip, and survives a restart; its replay is refused', async t => {
  const stateDir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-policy-test-'))
  const h = await harness(t, { stateDir })
  const applied = await h.manager.handlePush(signedPush(text(9), orchestratorKey))
  t.match(applied, { outcome: 'applied', serial: 9, runningSerial: 9 })
  t.same(h.applied, [9])
  t.ok(h.manager.onProbation)
  t.match(await h.manager.handlePush(signedPush(text(10), orchestratorKey)), { outcome: 'rejected', reason: 'busy' }, 'one push at a time')
  h.confirmations[0]!.resolve()
  await h.manager.probationSettled()
  t.notOk(h.manager.onProbation)
  t.match(h.reports.at(-1), { outcome: 'confirmed', serial: 9 })
  t.equal(h.timers.pending.size, 0, 'the grace timer is cancelled')
  t.match(await h.manager.handlePush(signedPush(text(9), orchestratorKey)), { outcome: 'rejected', reason: 'serial' }, 'replaying it is refused')

  const again = await harness(t, { stateDir })
  t.equal(again.manager.running.policy.serial, 9, 'the confirmed push runs after a restart')
  t.equal(again.manager.running.source, 'pushed')
})

t.test('no round trip within the grace period: the previous policy is applied again and that is reported', async t => {
  const stateDir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-policy-test-'))
  const h = await harness(t, { stateDir })
  await h.manager.handlePush(signedPush(text(9), orchestratorKey))
  t.same(h.applied, [9])
  h.timers.fireAll()
  await h.manager.probationSettled()
  t.same(h.applied, [9, 7], 'serial 7 applied again')
  t.equal(h.manager.running.policy.serial, 7)
  const rolledBack = h.reports.at(-1)!
  t.match(rolledBack, { outcome: 'rolled-back', serial: 9, runningSerial: 7, message: /cut the edge off/ })
  outcomeValid(t, rolledBack)
  t.match(await h.manager.handlePush(signedPush(text(9), orchestratorKey)), { outcome: 'rejected', reason: 'serial' }, 'the rolled-back serial cannot be pushed again')
  t.match(await h.manager.handlePush(signedPush(text(10), orchestratorKey)), { outcome: 'applied', serial: 10 }, 'a newer one can')

  const restarted = await harness(t, { stateDir })
  t.equal(restarted.manager.running.policy.serial, 7, 'a restart during probation runs the last good policy')
  t.match(restarted.reports, [{ outcome: 'rolled-back', serial: 10, runningSerial: 7, message: /restarted while this policy was on probation/ }])
  t.match(await restarted.manager.handlePush(signedPush(text(10), orchestratorKey)), { outcome: 'rejected', reason: 'serial' }, 'the floor survived the restart')
})

t.test('a failing apply puts the previous policy back', async t => {
  const applied: number[] = []
  const h = await harness(t, {
    applyPolicy: async policy => {
      applied.push(policy.serial)
      if (policy.serial === 9) throw new Error('nft: table sdwan busy')
    },
  })
  const outcome = await h.manager.handlePush(signedPush(text(9), orchestratorKey))
  t.match(outcome, { outcome: 'apply-failed', serial: 9, runningSerial: 7, message: /nft: table sdwan busy; serial 7 \(local\) runs again/ })
  t.same(applied, [9, 7])
  t.notOk(h.manager.onProbation)
  outcomeValid(t, outcome)
})

t.test('without any signing key every push is refused; a provisioning key is trusted', async t => {
  const bare = policyText(7)
  const h = await harness(t, { local: { policy: parsed(bare), text: bare } })
  t.match(await h.manager.handlePush(signedPush(policyText(8), orchestratorKey)), { outcome: 'rejected', reason: 'signature', message: /no policy signing key/ })
  const provisioned = await harness(t, { local: { policy: parsed(bare), text: bare }, provisioningKeys: [orchestratorKeys.publicKeyBase64] })
  t.match(await provisioned.manager.handlePush(signedPush(policyText(8), orchestratorKey)), { outcome: 'applied', serial: 8 })
})
