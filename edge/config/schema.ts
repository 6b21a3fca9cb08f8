// Validates policy data against policies/schema/site-policy.schema.json and turns ajv's errors into
// messages a network engineer can act on: what is wrong, what is allowed, at which JSON pointer.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import schema from '../../policies/schema/site-policy.schema.json' with { type: 'json' }
import { parseAddress, parsePrefix } from '../net/prefix.js'
import { pathOf, type PolicyProblem } from './errors.js'

export { schema as sitePolicySchema }

let ajvInstance: Ajv2020 | undefined
const compiledSchemas = new WeakMap<object, ValidateFunction>()

function sharedAjv(): Ajv2020 {
  if (ajvInstance) return ajvInstance
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true })
  ajv.addFormat('ip-address', { type: 'string', validate: s => parseAddress(s) !== undefined })
  ajv.addFormat('ip-prefix', { type: 'string', validate: s => s.includes('/') && parsePrefix(s) !== undefined })
  ajv.addFormat('ip-interface', { type: 'string', validate: s => s.includes('/') && parsePrefix(s) !== undefined })
  ajvInstance = ajv
  return ajv
}

/** A policy schema document: its `$defs` are what the branches of its oneOf/anyOf refer to. */
export interface PolicySchema {
  $defs: object
}

function validator(policySchema: PolicySchema): ValidateFunction {
  let validate = compiledSchemas.get(policySchema)
  if (!validate) {
    validate = sharedAjv().compile(policySchema)
    compiledSchemas.set(policySchema, validate)
  }
  return validate
}

/**
 * Validates `data` in place, filling in schema defaults (the caller passes a copy it owns).
 * Returns every problem found; an empty list means the data has the SitePolicy shape.
 */
export function validateAgainstSchema(data: unknown): PolicyProblem[] {
  return validateAgainst(schema, data)
}

/** The same for another policy schema (the hub's, edge/hub): same formats, same messages. */
export function validateAgainst(policySchema: PolicySchema, data: unknown): PolicyProblem[] {
  const validate = validator(policySchema)
  if (validate(data)) return []
  return explain(validate.errors ?? [], data, policySchema)
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
        pointer: `${e.instancePath}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        atKey: true,
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

function valueAt(data: unknown, pointer: string): unknown {
  let node = data
  for (const part of pathOf(pointer)) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

const branchValidators = new WeakMap<object, ValidateFunction>()

/** A validator for one branch schema; its `#/$defs/…` references resolve against the policy schema's. */
function branchValidator(branch: object, policySchema: PolicySchema): ValidateFunction {
  let check = branchValidators.get(branch)
  if (!check) {
    check = sharedAjv().compile({ ...branch, $defs: policySchema.$defs })
    branchValidators.set(branch, check)
  }
  return check
}

const COMBINATOR_ONLY = new Set(['oneOf', 'anyOf', 'description', 'default'])

/**
 * The problems of the one branch of a failed oneOf/anyOf that the author meant: not one whose
 * discriminator (a const or enum one level down) failed, then the one with fewest problems. Each branch
 * is validated on its own, because ajv names errors met through a $ref by the referenced schema's path,
 * so a mixed error list cannot be split by branch. A static addressing block with a typo hears about
 * the typo, not that 'mode' is not 'dhcp'.
 */
function bestBranch(c: ErrorObject, data: unknown, policySchema: PolicySchema): ErrorObject[] {
  const branches = (c.parentSchema as Record<string, object[]>)[c.keyword]!.map(branch => {
    const check = branchValidator(branch, policySchema)
    check(structuredClone(valueAt(data, c.instancePath)))
    return (check.errors ?? []).map(e => ({ ...e, instancePath: c.instancePath + e.instancePath }))
  })
  const depth = c.instancePath.split('/').length + 1
  const discriminatorFailed = (es: ErrorObject[]): boolean =>
    es.some(e => (e.keyword === 'const' || e.keyword === 'enum') && e.instancePath.split('/').length === depth)
  const rank = (es: ErrorObject[]): number => (discriminatorFailed(es) ? 1000 : 0) + es.length
  return [...branches].sort((a, b) => rank(a) - rank(b))[0] ?? []
}

/** Turns ajv's errors into problems; a combinator's branch errors are replaced by its best branch's. */
function explain(errors: readonly ErrorObject[], data: unknown, policySchema: PolicySchema): PolicyProblem[] {
  const out: PolicyProblem[] = []
  let remaining = [...errors]
  for (const c of errors.filter(e => e.keyword === 'oneOf' || e.keyword === 'anyOf')) {
    if (!remaining.includes(c)) continue
    const own = c.parentSchema as Record<string, unknown>
    const under = (e: ErrorObject): boolean => e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`)
    const branchSchemas = own[c.keyword] as Array<Record<string, unknown>>
    if (c.keyword === 'anyOf' && branchSchemas.every(b => Object.keys(b).length === 1 && Array.isArray(b.required))) {
      // anyOf: [{required: [a]}, {required: [b]}] reads best as one sentence.
      const names = branchSchemas.flatMap(b => b.required as string[])
      out.push({ pointer: c.instancePath, message: `needs at least one of: ${names.join(', ')}` })
      remaining = remaining.filter(e => e !== c && !(e.keyword === 'required' && e.schemaPath.startsWith(`${c.schemaPath}/`)))
    } else if (Object.keys(own).every(k => COMBINATOR_ONLY.has(k))) {
      remaining = remaining.filter(e => !under(e))
      out.push(...explain(bestBranch(c, data, policySchema), data, policySchema))
    }
  }
  out.push(...remaining.map(explainOne))
  const seen = new Set<string>()
  return out.filter(problem => {
    const key = `${problem.pointer}\0${problem.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
