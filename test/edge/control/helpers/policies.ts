// Site policies for control tests: the small-office example with a chosen serial and telemetry section,
// and signed push envelopes of them.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { parsePolicy } from '../../../../edge/config/load.js'
import type { SitePolicy } from '../../../../edge/config/policy.js'
import { makeSignedPolicyEnvelope } from '../../../../edge/control/policy-envelope.js'

const EXAMPLE = readFileSync(join(import.meta.dirname, '../../../../policies/examples/small-office-dual-broadband.yaml'), 'utf8')

export interface PolicyTelemetry {
  readonly broker?: string
  readonly tls?: { caFile: string; certFile: string; keyFile: string }
  readonly signingKey?: string
  readonly reportIntervalS?: number
}

/** The example policy (site office-lyon, device edge-lyon-1) with `serial` and this telemetry section. */
export function policyText(serial: number, telemetry: PolicyTelemetry = {}): string {
  const head = EXAMPLE.slice(0, EXAMPLE.indexOf('\ntelemetry:') + 1).replace(/^serial: \d+$/m, `serial: ${serial}`)
  const lines = ['telemetry:', `  broker: ${telemetry.broker ?? 'mqtts://mgmt.example.org:8883'}`]
  const tls = telemetry.tls ?? { caFile: '/etc/sdwan-edge/pki/ca.pem', certFile: '/etc/sdwan-edge/pki/device.pem', keyFile: '/etc/sdwan-edge/pki/device.key' }
  lines.push('  tls:', `    caFile: ${tls.caFile}`, `    certFile: ${tls.certFile}`, `    keyFile: ${tls.keyFile}`)
  lines.push(`  reportIntervalS: ${telemetry.reportIntervalS ?? 1}`)
  if (telemetry.signingKey) lines.push(`  policySigningKey: "${telemetry.signingKey}"`)
  return `${head}${lines.join('\n')}\n`
}

export function parsed(text: string): SitePolicy {
  const result = parsePolicy('test', text)
  if (!result.ok) throw new Error(`test policy invalid: ${result.errors.map(e => `${e.line}:${e.column} ${e.message}`).join('; ')}`)
  return result.policy
}

export const signedPush = (text: string, key: KeyObject): Buffer => Buffer.from(JSON.stringify(makeSignedPolicyEnvelope(text, key)))
