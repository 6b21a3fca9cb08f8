// Policy file → validated SitePolicy, or every problem found, each at file:line:column.
import { readFile } from 'node:fs/promises'
import { PolicyInvalid, type PolicyError } from './errors.js'
import type { SitePolicy } from './policy.js'
import { validateAgainstSchema } from './schema.js'
import { checkSemantics } from './semantics.js'
import { parseYamlSource } from './yaml-source.js'

export type PolicyResult = { ok: true; policy: SitePolicy } | { ok: false; errors: PolicyError[] }

const byPosition = (a: PolicyError, b: PolicyError): number => a.line - b.line || a.column - b.column

/** Parses and validates policy text. `file` only labels the errors. Never throws for bad input. */
export function parsePolicy(file: string, text: string): PolicyResult {
  const source = parseYamlSource(file, text)
  if (Array.isArray(source)) return { ok: false, errors: source }
  if (source.data === null || typeof source.data !== 'object' || Array.isArray(source.data)) {
    return { ok: false, errors: [source.locate({ pointer: '', message: 'a policy must be a YAML mapping (key: value pairs) at the top level' })] }
  }
  // The schema fills defaults in place: validate a private copy so the caller's view never half-changes.
  const data = structuredClone(source.data) as Record<string, unknown>
  const schemaProblems = validateAgainstSchema(data)
  if (schemaProblems.length > 0) return { ok: false, errors: schemaProblems.map(source.locate).sort(byPosition) }
  const policy = normalise(data as unknown as SitePolicy)
  const semantic = checkSemantics(policy)
  if (semantic.length > 0) return { ok: false, errors: semantic.map(source.locate).sort(byPosition) }
  return { ok: true, policy }
}

/** Defaults that depend on other fields, which JSON Schema defaults cannot express. */
function normalise(policy: SitePolicy): SitePolicy {
  for (const u of policy.uplinks) u.nat ??= u.kind !== 'mpls'
  const mask = policy.dataplane.fwmarkMask as number | string
  policy.dataplane.fwmarkMask = typeof mask === 'string' ? parseInt(mask.slice(2), 16) : mask
  return policy
}

/** Reads and validates a policy file; throws PolicyInvalid listing every problem. */
export async function loadPolicyFile(path: string): Promise<SitePolicy> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO'
    throw new PolicyInvalid([{ file: path, line: 1, column: 1, pointer: '', message: `cannot read the file (${code})` }])
  }
  const result = parsePolicy(path, text)
  if (!result.ok) throw new PolicyInvalid(result.errors)
  return result.policy
}
