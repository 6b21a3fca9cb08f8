// Hub policy file → validated HubPolicy, or every problem found, each at file:line:column, through
// the same YAML front half and schema messages as the site policy (config/load.ts, config/schema.ts).
// A policy file is a hub policy when it says `device: { role: hub }`: the site schema's own word for
// a data-centre head end, so `validate` and `run` pick the schema from the file itself.
import { accessSync, constants } from 'node:fs'
import { parse } from 'yaml'
import type { PolicyError } from '../config/errors.js'
import { parseDocument, parsePolicy, readPolicyText, type PolicyResult } from '../config/load.js'
import type { SitePolicy } from '../config/policy.js'
import { validateAgainst } from '../config/schema.js'
import hubSchema from '../../policies/schema/hub-policy.schema.json' with { type: 'json' }
import type { HubPolicy } from './policy.js'
import { checkHubSemantics, namedFiles } from './semantics.js'

export { hubSchema as hubPolicySchema }

export type HubPolicyResult = { ok: true; policy: HubPolicy } | { ok: false; errors: PolicyError[] }

export type AnyPolicyResult = { ok: true; role: 'edge'; policy: SitePolicy } | { ok: true; role: 'hub'; policy: HubPolicy } | { ok: false; errors: PolicyError[] }

/** Whether a file can be read; the checks name every file the policy needs that cannot. */
export type FileCheck = (path: string) => boolean

export const readableFile: FileCheck = path => {
  try {
    accessSync(path, constants.R_OK)
    return true
  } catch {
    return false
  }
}

/** Parses and validates hub policy text; `readable` says which named files exist. Never throws. */
export function parseHubPolicy(file: string, text: string, readable: FileCheck): HubPolicyResult {
  const parsed = parseDocument(file, text, data => {
    const schemaProblems = validateAgainst(hubSchema, data)
    const policy = data as unknown as HubPolicy
    if (schemaProblems.length > 0) return { value: policy, problems: schemaProblems }
    const missing = new Set(namedFiles(policy).filter(f => !readable(f.path)).map(f => f.path))
    return { value: policy, problems: checkHubSemantics(policy, missing) }
  })
  return parsed.ok ? { ok: true, policy: parsed.value } : parsed
}

/** True when the text is a YAML mapping whose device.role is hub. */
export function isHubPolicyText(text: string): boolean {
  let data: unknown
  try {
    data = parse(text, { maxAliasCount: 100 })
  } catch {
    return false
  }
  const device = (data as { device?: unknown } | null)?.device
  return typeof device === 'object' && device !== null && (device as { role?: unknown }).role === 'hub'
}

/** Parses either kind of policy, choosing the schema by device.role. */
export function parseAnyPolicy(file: string, text: string, readable: FileCheck = readableFile): AnyPolicyResult {
  if (isHubPolicyText(text)) {
    const hub = parseHubPolicy(file, text, readable)
    return hub.ok ? { ok: true, role: 'hub', policy: hub.policy } : hub
  }
  const site: PolicyResult = parsePolicy(file, text)
  return site.ok ? { ok: true, role: 'edge', policy: site.policy } : site
}

/** Reads and validates a policy file of either kind; an unreadable file is one more located problem. */
export async function readAnyPolicy(path: string, label = path, readable: FileCheck = readableFile): Promise<AnyPolicyResult> {
  const text = await readPolicyText(path, label)
  return typeof text === 'string' ? parseAnyPolicy(label, text, readable) : text
}

/** Reads and validates a hub policy file (a site policy there is a problem too). */
export async function readHubPolicy(path: string, label = path, readable: FileCheck = readableFile): Promise<HubPolicyResult> {
  const result = await readAnyPolicy(path, label, readable)
  if (!result.ok) return result
  if (result.role === 'hub') return { ok: true, policy: result.policy }
  return { ok: false, errors: [{ file: label, line: 1, column: 1, pointer: '/device/role', message: 'the file is no longer a hub policy (device.role is not hub); a running hub cannot turn into an edge' }] }
}
