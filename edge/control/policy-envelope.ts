// The signed policy envelope pushed on PREFIX/SITE/DEVICE/policy/push (schema:
// policies/schema/telemetry/policy-envelope.schema.json):
//
//   {"format": "sdwan-signed-policy/1", "policy": "<site policy YAML text>", "signature": "<base64>"}
//
// `signature` is Ed25519 over the UTF-8 bytes of `policy` exactly as carried — the YAML text, not a
// re-serialisation of what it parses to, so that comments and formatting are covered and the edge never
// has to canonicalise anything before verifying.
import type { KeyObject } from 'node:crypto'
import { validatePayload } from '../telemetry/payload-schemas.js'
import { signPolicyText } from './policy-signature.js'

export const SIGNED_POLICY_FORMAT = 'sdwan-signed-policy/1'

export interface SignedPolicyEnvelope {
  readonly format: typeof SIGNED_POLICY_FORMAT
  readonly policy: string
  readonly signature: string
}

export function makeSignedPolicyEnvelope(policyText: string, privateKey: KeyObject): SignedPolicyEnvelope {
  return { format: SIGNED_POLICY_FORMAT, policy: policyText, signature: signPolicyText(policyText, privateKey) }
}

export type EnvelopeParse = { ok: true; envelope: SignedPolicyEnvelope } | { ok: false; message: string }

/** Reads an envelope from message bytes; says what is wrong rather than throwing. */
export function parseSignedPolicyEnvelope(bytes: Buffer): EnvelopeParse {
  let data: unknown
  try {
    data = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    return { ok: false, message: `not JSON: ${(error as Error).message}` }
  }
  const valid = validatePayload('policy-envelope', data)
  if (!valid.ok) return { ok: false, message: `not a signed policy envelope (${SIGNED_POLICY_FORMAT}): ${valid.problems.join('; ')}` }
  return { ok: true, envelope: data as SignedPolicyEnvelope }
}
