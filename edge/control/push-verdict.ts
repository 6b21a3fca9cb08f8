// Whether a pushed policy may be applied. Pure: message bytes and what the edge knows in, verdict out.
//
// Checked in this order, so untrusted text is never parsed as YAML:
//   1. malformed  — not a signed policy envelope;
//   2. signature  — no trusted key (the running policy's policySigningKey, or a provisioning key)
//                   verifies the signature over the exact policy bytes;
//   3. invalid    — the policy text fails parsePolicy (the errors carry line:column in the text);
//   4. serial     — its serial is not greater than every serial this edge has ever accepted (the
//                   persisted floor), which defeats replaying an old push and rolling back to an older
//                   policy, including one that was itself rolled back.
import type { KeyObject } from 'node:crypto'
import type { PolicyError } from '../config/errors.js'
import { parsePolicy } from '../config/load.js'
import type { SitePolicy } from '../config/policy.js'
import { parseSignedPolicyEnvelope, type SignedPolicyEnvelope } from './policy-envelope.js'
import { verifyPolicyText } from './policy-signature.js'

export type RejectReason = 'malformed' | 'signature' | 'invalid' | 'serial'

export type PushVerdict =
  | { readonly accepted: true; readonly envelope: SignedPolicyEnvelope; readonly policy: SitePolicy }
  | { readonly accepted: false; readonly reason: RejectReason; readonly serial: number | null; readonly message: string; readonly errors?: readonly PolicyError[] }

export interface PushContext {
  readonly trustedKeys: readonly KeyObject[]
  /** The highest serial ever accepted here (or the running serial, if higher). */
  readonly serialFloor: number
  /** Labels validation errors, e.g. 'push'. */
  readonly label: string
}

/** The serial a policy text declares, read without trusting or fully parsing it; null if none. */
export function declaredSerial(text: string): number | null {
  const m = /^serial:\s*(\d{1,15})\s*(#.*)?$/m.exec(text)
  return m ? Number(m[1]) : null
}

export function judgePush(bytes: Buffer, context: PushContext): PushVerdict {
  const parsed = parseSignedPolicyEnvelope(bytes)
  if (!parsed.ok) return { accepted: false, reason: 'malformed', serial: null, message: parsed.message }
  const { envelope } = parsed
  const serial = declaredSerial(envelope.policy)
  if (context.trustedKeys.length === 0) {
    return { accepted: false, reason: 'signature', serial, message: 'no policy signing key is configured (telemetry.policySigningKey or a provisioning key): pushes cannot be verified' }
  }
  if (!verifyPolicyText(envelope.policy, envelope.signature, context.trustedKeys)) {
    return { accepted: false, reason: 'signature', serial, message: 'the signature does not verify with any trusted policy signing key (tampered, or signed with another key)' }
  }
  const result = parsePolicy(context.label, envelope.policy)
  if (!result.ok) {
    return { accepted: false, reason: 'invalid', serial, message: `the policy has ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}`, errors: result.errors }
  }
  if (result.policy.serial <= context.serialFloor) {
    return {
      accepted: false,
      reason: 'serial',
      serial: result.policy.serial,
      message: `serial ${result.policy.serial} is not greater than ${context.serialFloor}, the highest serial accepted here (a replay or a rollback); push a policy with serial ${context.serialFloor + 1} or more`,
    }
  }
  return { accepted: true, envelope, policy: result.policy }
}
