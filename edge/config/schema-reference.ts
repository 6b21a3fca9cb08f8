// The policy reference for people: every field of the site policy schema, its type, range, default and
// meaning, as a Markdown table. Generated from the schema so the README cannot drift from it. Pure.

type Schema = Record<string, unknown> & {
  $ref?: string
  type?: string | string[]
  properties?: Record<string, Schema>
  items?: Schema
  additionalProperties?: Schema | boolean
  oneOf?: Schema[]
  anyOf?: Schema[]
  enum?: unknown[]
  const?: unknown
  required?: string[]
  description?: string
  default?: unknown
}

interface Row {
  field: string
  type: string
  required: boolean
  default?: unknown
  description: string
}

function resolve(root: Schema, s: Schema): Schema {
  if (!s.$ref) return s
  const target = s.$ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root) as Schema
  // Siblings of $ref (a description or default at the use site) take precedence over the target's.
  const { $ref: _ignored, ...siblings } = s
  return { ...resolve(root, target), ...siblings }
}

function typeOf(root: Schema, raw: Schema): string {
  const s = resolve(root, raw)
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``
  if (s.enum) return s.enum.map(v => `\`${String(v)}\``).join(' \\| ')
  const alternatives = s.oneOf ?? s.anyOf
  if (alternatives && !s.type) {
    if (alternatives.some(a => resolve(root, a).properties)) return 'object, one of the forms below'
    return alternatives.map(a => typeOf(root, a)).join(' or ')
  }
  const range = (): string => {
    const lo = s.minimum ?? s.exclusiveMinimum
    const hi = s.maximum ?? s.exclusiveMaximum
    if (lo === undefined && hi === undefined) return ''
    const left = lo === undefined ? '' : `${String(lo)}${s.exclusiveMinimum !== undefined ? ' <' : ' ≤'} `
    const right = hi === undefined ? '' : ` ≤ ${String(hi)}`
    return ` (${left}n${right})`
  }
  switch (s.type) {
    case 'array':
      return `list of ${s.items ? typeOf(root, s.items) : 'values'}`
    case 'object':
      return 'object'
    case 'integer':
      return `integer${range()}`
    case 'number':
      return `number${range()}`
    case 'string':
      return s.format ? `string (${String(s.format)})` : 'string'
    default:
      return String(s.type ?? (s.properties ? 'object' : 'value'))
  }
}

function walk(root: Schema, raw: Schema, path: string, required: boolean, rows: Row[]): void {
  const s = resolve(root, raw)
  rows.push({ field: path, type: typeOf(root, s), required, default: s.default, description: (s.description ?? '').replace(/\s+/g, ' ') })
  const nested = (obj: Schema, prefix: string, note?: string): void => {
    for (const [key, child] of Object.entries(obj.properties ?? {})) {
      const before = rows.length
      walk(root, child, `${prefix}.${key}`, (obj.required ?? []).includes(key), rows)
      if (note && rows[before]) rows[before]!.description = `${note} ${rows[before]!.description}`.trim()
    }
  }
  if (s.type === 'array' && s.items) {
    const item = resolve(root, s.items)
    if (item.properties) nested(item, `${path}[]`)
    for (const branch of item.oneOf ?? []) nested(resolve(root, branch), `${path}[]`)
  }
  nested(s, path)
  for (const branch of s.oneOf ?? []) {
    const b = resolve(root, branch)
    if (!b.properties) continue
    const mode = (b.properties.mode as Schema | undefined)?.const
    nested(b, path, mode !== undefined ? `(mode \`${String(mode)}\`)` : '(one form)')
  }
  if (typeof s.additionalProperties === 'object' && s.additionalProperties.properties) {
    nested(resolve(root, s.additionalProperties), `${path}.<name>`)
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\\\\\|/g, '\\|')

/** The reference table for `schema`, one row per field, in schema order. */
export function schemaReference(schema: Schema): string {
  const rows: Row[] = []
  for (const [key, child] of Object.entries(schema.properties ?? {})) walk(schema, child, key, (schema.required ?? []).includes(key), rows)
  const seen = new Set<string>()
  const unique = rows.filter(r => (seen.has(r.field) ? false : (seen.add(r.field), true)))
  const lines = ['| Field | Type | Required | Default | Meaning |', '|---|---|---|---|---|']
  for (const r of unique) {
    const def = r.default === undefined ? '' : `\`${JSON.stringify(r.default)}\``
    lines.push(`| \`${r.field}\` | ${cell(r.type)} | ${r.required ? 'yes' : ''} | ${cell(def)} | ${cell(r.description)} |`)
  }
  return lines.join('\n') + '\n'
}
