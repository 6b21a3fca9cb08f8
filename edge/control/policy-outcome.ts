// What the edge reports about a policy push (policies/schema/telemetry/policy-outcome.schema.json,
// without the record stamp the telemetry client adds). Pure.
import type { PolicyError } from '../config/errors.js'
import type { PushVerdict } from './push-verdict.js'

export type OutcomeKind = 'applied' | 'confirmed' | 'rejected' | 'apply-failed' | 'rolled-back'
export type RejectionReason = 'malformed' | 'signature' | 'invalid' | 'serial' | 'busy'

export interface PolicyOutcome {
  readonly outcome: OutcomeKind
  readonly reason?: RejectionReason
  /** Serial of the pushed policy, null when it could not be read. */
  readonly serial: number | null
  /** Serial running after this outcome. */
  readonly runningSerial: number | null
  readonly message: string
  readonly errors?: ReadonlyArray<{ line: number; column: number; pointer: string; message: string }>
}

const locatedErrors = (errors: readonly PolicyError[]) => errors.map(e => ({ line: e.line, column: e.column, pointer: e.pointer, message: e.message }))

export function rejectionOutcome(verdict: Extract<PushVerdict, { accepted: false }>, runningSerial: number | null): PolicyOutcome {
  return {
    outcome: 'rejected',
    reason: verdict.reason,
    serial: verdict.serial,
    runningSerial,
    message: verdict.message,
    ...(verdict.errors ? { errors: locatedErrors(verdict.errors) } : {}),
  }
}
