// Validates policy data against policies/schema/site-policy.schema.json and turns ajv's errors into
// messages a network engineer can act on: what is wrong, what is allowed, at which JSON pointer.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import schema from '../../policies/schema/site-policy.schema.json' with { type: 'json' }
import { parseAddress, parsePrefix } from '../net/prefix.js'
import type { PolicyProblem } from './errors.js'

export { schema as sitePolicySchema }

let compiled: ValidateFunction | undefined

function validator(): ValidateFunction {
  if (compiled) return compiled
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true })
  ajv.addFormat('ip-address', { type: 'string', validate: s => parseAddress(s) !== undefined })
  ajv.addFormat('ip-prefix', { type: 'string', validate: s => s.includes('/') && parsePrefix(s) !== undefined })
  ajv.addFormat('ip-interface', { type: 'string', validate: s => s.includes('/') && parsePrefix(s) !== undefined })
  compiled = ajv.compile(schema)
  return compiled
}

/**
 * Validates `data` in place, filling in schema defaults (the caller passes a copy it owns).
 * Returns every problem found; an empty list means the data has the SitePolicy shape.
 */
export function validateAgainstSchema(data: unknown): PolicyProblem[] {
  const validate = validator()
  if (validate(data)) return []
  return explain(validate.errors ?? [])
}

const FORMAT_NAMES: Record<string, string> = {
  'ip-address': 'an IPv4 or IPv6 address (198.51.100.1, 2001:db8::1)',
  'ip-prefix': 'an IPv4 or IPv6 prefix in CIDR notation (10.42.0.0/24, fd42::/64)',
  'ip-interface': 'an address with its prefix length (198.51.100.2/30, 2001:db8:1::2/64)',
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v))

function explainOne(e: ErrorObject): PolicyProblem {
  const p = e.params as Record<string, unknown>
  const got = e.data === undefined ? '' : ` (got ${show(e.data)})`
  const described = (e.parentSchema as { description?: string } | undefined)?.description
  switch (e.keyword) {
    case 'required':
      return { pointer: e.instancePath, message: `missing required property '${String(p.missingProperty)}'` }
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {})
      const extra = String(p.additionalProperty)
      return {
        pointer: `${e.instancePath}/#${extra}`,
        message: `unknown property '${extra}'; allowed here: ${allowed.join(', ')}`,
      }
    }
    case 'enum':
      return { pointer: e.instancePath, message: `must be one of ${(p.allowedValues as unknown[]).map(show).join(', ')}${got}` }
    case 'const':
      return { pointer: e.instancePath, message: `must be ${show(p.allowedValue)}${got}` }
    case 'type':
      return { pointer: e.instancePath, message: `must be ${String(p.type).replace(',', ' or ')}${got}` }
    case 'format':
      return { pointer: e.instancePath, message: `must be ${FORMAT_NAMES[String(p.format)] ?? String(p.format)}${got}` }
    case 'pattern':
      return { pointer: e.instancePath, message: `${show(e.data)} is not allowed here: ${described ?? `must match ${String(p.pattern)}`}` }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '≥', maximum: '≤', exclusiveMinimum: '>', exclusiveMaximum: '<' }[e.keyword]
      return { pointer: e.instancePath, message: `must be ${op} ${String(p.limit)}${got}` }
    }
    case 'minItems':
      return { pointer: e.instancePath, message: `must list at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` }
    case 'maxItems':
      return { pointer: e.instancePath, message: `must list at most ${String(p.limit)} items` }
    case 'minLength':
      return { pointer: e.instancePath, message: `must not be empty` }
    case 'maxLength':
      return { pointer: e.instancePath, message: `must be at most ${String(p.limit)} characters` }
    case 'minProperties':
      return { pointer: e.instancePath, message: `must set at least one of: ${Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).join(', ')}` }
    default:
      return { pointer: e.instancePath, message: e.message ?? e.keyword }
  }
}

/**
 * ajv reports a failed oneOf/anyOf together with every branch's own failures. Keep only the branch that
 * came closest (the one whose errors sit deepest and are fewest), since that is the one the author meant:
 * a static addressing block with a typo should hear about the typo, not that 'mode' is not 'dhcp'.
 */
function explain(errors: readonly ErrorObject[]): PolicyProblem[] {
  const branchOf = (e: ErrorObject, combinator: ErrorObject): number | undefined => {
    const prefix = `${combinator.schemaPath}/`
    if (!e.schemaPath.startsWith(prefix)) return undefined
    return Number(e.schemaPath.slice(prefix.length).split('/')[0])
  }
  const dropped = new Set<ErrorObject>()
  const combinators = errors.filter(e => e.keyword === 'oneOf' || e.keyword === 'anyOf')
  for (const c of combinators) {
    const inside = errors.filter(e => e !== c && e.instancePath.startsWith(c.instancePath) && branchOf(e, c) !== undefined)
    if (inside.length === 0) continue
    const byBranch = new Map<number, ErrorObject[]>()
    for (const e of inside) byBranch.set(branchOf(e, c)!, [...(byBranch.get(branchOf(e, c)!) ?? []), e])
    const score = (es: ErrorObject[]): number =>
      Math.max(...es.map(e => e.instancePath.split('/').length)) * 100 -
      es.length -
      (es.some(e => e.keyword === 'const' || e.keyword === 'type') ? 50 : 0)
    const best = [...byBranch.entries()].sort((a, b) => score(b[1]) - score(a[1]))[0]![0]
    for (const [branch, es] of byBranch) if (branch !== best) es.forEach(e => dropped.add(e))
    dropped.add(c)
  }
  const seen = new Set<string>()
  const out: PolicyProblem[] = []
  for (const e of errors) {
    if (dropped.has(e) || e.keyword === 'if') continue
    const problem = explainOne(e)
    const key = `${problem.pointer}\0${problem.message}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push(problem)
    }
  }
  return out
}
