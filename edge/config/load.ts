// Policy file → validated SitePolicy, or every problem found, each at file:line:column.
import { readFile } from 'node:fs/promises'
import { PolicyInvalid, type PolicyError, type PolicyProblem } from './errors.js'
import type { SitePolicy } from './policy.js'
import { validateAgainstSchema } from './schema.js'
import { checkSemantics } from './semantics.js'
import { parseYamlSource } from './yaml-source.js'

export type PolicyResult = { ok: true; policy: SitePolicy } | { ok: false; errors: PolicyError[] }

const byPosition = (a: PolicyError, b: PolicyError): number => a.line - b.line || a.column - b.column

/** Parses and validates policy text. `file` only labels the errors. Never throws for bad input. */
export function parsePolicy(file: string, text: string): PolicyResult {
  const parsed = parseDocument(file, text, data => {
    const schemaProblems = validateAgainstSchema(data)
    const policy = normalise(data as unknown as SitePolicy)
    return { value: policy, problems: [...schemaProblems, ...semanticProblemsBeside(policy, schemaProblems)] }
  })
  return parsed.ok ? { ok: true, policy: parsed.value } : parsed
}

/** What a policy kind's checker makes of the document: the typed value and every problem found. */
export type DocumentCheck<T> = (data: Record<string, unknown>) => { value: T; problems: PolicyProblem[] }

/**
 * The YAML front half every policy kind shares: syntax errors, a mapping at the top level, then
 * `check` on a private copy (the schema fills defaults in place, so the caller's view never
 * half-changes). Problems come back located and in file order.
 */
export function parseDocument<T>(file: string, text: string, check: DocumentCheck<T>): { ok: true; value: T } | { ok: false; errors: PolicyError[] } {
  const source = parseYamlSource(file, text)
  if (Array.isArray(source)) return { ok: false, errors: source }
  if (source.data === null || typeof source.data !== 'object' || Array.isArray(source.data)) {
    return { ok: false, errors: [source.locate({ pointer: '', message: 'a policy must be a YAML mapping (key: value pairs) at the top level' })] }
  }
  const { value, problems } = check(structuredClone(source.data) as Record<string, unknown>)
  if (problems.length > 0) return { ok: false, errors: problems.map(source.locate).sort(byPosition) }
  return { ok: true, value }
}

const related = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)

/**
 * The semantic problems, so that one run lists every error at once. When the schema already failed, the
 * checks run on data that may not have the SitePolicy shape: they are kept only away from the objects the
 * schema rejected a value in, and dropped altogether if the malformed data trips them up.
 */
function semanticProblemsBeside(policy: SitePolicy, schemaProblems: PolicyProblem[]): PolicyProblem[] {
  if (schemaProblems.length === 0) return checkSemantics(policy)
  // A rejected value makes its whole enclosing object suspect (a bad ipv4 makes gateway4 unjudgeable).
  const rejected = schemaProblems.map(p => p.pointer.replace(/\/[^/]*$/, ''))
  try {
    return checkSemantics(policy).filter(p => !rejected.some(r => related(p.pointer, r)))
  } catch {
    return []
  }
}

/** Defaults that depend on other fields, which JSON Schema defaults cannot express. */
function normalise(policy: SitePolicy): SitePolicy {
  if (Array.isArray(policy.uplinks)) for (const u of policy.uplinks) if (u && typeof u === 'object') u.nat ??= u.kind !== 'mpls'
  const mask = policy.dataplane?.fwmarkMask as number | string | undefined
  if (typeof mask === 'string') policy.dataplane.fwmarkMask = parseInt(mask.slice(2), 16)
  return policy
}

/**
 * Reads and validates a policy file; an unreadable file is one more located problem. Never throws.
 * `label` names the file in errors (what the person typed, rather than the resolved path).
 */
export async function readPolicy(path: string, label = path): Promise<PolicyResult> {
  const text = await readPolicyText(path, label)
  return typeof text === 'string' ? parsePolicy(label, text) : text
}

/** A policy file's text, or the located problem of an unreadable file. Never throws. */
export async function readPolicyText(path: string, label = path): Promise<string | { ok: false; errors: PolicyError[] }> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO'
    const why = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[code] ?? code
    return { ok: false, errors: [{ file: label, line: 1, column: 1, pointer: '', message: `cannot read policy: ${why}` }] }
  }
}

/** Reads and validates a policy file; throws PolicyInvalid listing every problem. */
export async function loadPolicyFile(path: string): Promise<SitePolicy> {
  const result = await readPolicy(path)
  if (!result.ok) throw new PolicyInvalid(result.errors)
  return result.policy
}
