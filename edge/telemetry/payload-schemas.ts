// Validators for the MQTT payloads, compiled from policies/schema/telemetry/*.schema.json (the
// orchestrator-facing source of truth). The edge uses them on what it receives (command arguments,
// policy envelopes); tests use them on everything the edge publishes.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import commandReply from '../../policies/schema/telemetry/command-reply.schema.json' with { type: 'json' }
import commandRequest from '../../policies/schema/telemetry/command-request.schema.json' with { type: 'json' }
import decisions from '../../policies/schema/telemetry/decisions.schema.json' with { type: 'json' }
import event from '../../policies/schema/telemetry/event.schema.json' with { type: 'json' }
import inventory from '../../policies/schema/telemetry/inventory.schema.json' with { type: 'json' }
import metrics from '../../policies/schema/telemetry/metrics.schema.json' with { type: 'json' }
import policyEnvelope from '../../policies/schema/telemetry/policy-envelope.schema.json' with { type: 'json' }
import policyOutcome from '../../policies/schema/telemetry/policy-outcome.schema.json' with { type: 'json' }
import state from '../../policies/schema/telemetry/state.schema.json' with { type: 'json' }

const PAYLOAD_SCHEMAS = {
  state,
  inventory,
  metrics,
  event,
  decisions,
  'command-reply': commandReply,
  'policy-envelope': policyEnvelope,
  'policy-outcome': policyOutcome,
} as const

export type PayloadKind = keyof typeof PAYLOAD_SCHEMAS
export const COMMAND_NAMES = ['status', 'probe-now', 're-steer', 'flush'] as const
export type CommandName = (typeof COMMAND_NAMES)[number]

export type Validation = { ok: true } | { ok: false; problems: string[] }

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020

let compiled: Map<string, ValidateFunction> | undefined

function validators(): Map<string, ValidateFunction> {
  if (compiled) return compiled
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true })
  addFormats(ajv)
  const map = new Map<string, ValidateFunction>()
  for (const [kind, schema] of Object.entries(PAYLOAD_SCHEMAS)) map.set(kind, ajv.compile(schema))
  ajv.addSchema(commandRequest)
  for (const name of COMMAND_NAMES) map.set(`cmd:${name}`, ajv.getSchema(`${commandRequest.$id}#/$defs/${name}`)!)
  compiled = map
  return map
}

const describe = (errors: readonly ErrorObject[]): string[] =>
  errors.map(e => {
    const at = e.instancePath || '/'
    if (e.keyword === 'additionalProperties') return `${at}: unknown property '${String(e.params.additionalProperty)}'`
    if (e.keyword === 'enum') return `${at}: must be one of ${(e.params.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}`
    return `${at}: ${e.message ?? e.keyword}`
  })

function run(key: string, data: unknown): Validation {
  const validate = validators().get(key)!
  return validate(data) ? { ok: true } : { ok: false, problems: describe(validate.errors ?? []) }
}

/** Checks a payload against policies/schema/telemetry/KIND.schema.json. */
export const validatePayload = (kind: PayloadKind, data: unknown): Validation => run(kind, data)

/** Checks a command's arguments against command-request.schema.json#/$defs/NAME. */
export const validateCommandArguments = (name: CommandName, data: unknown): Validation => run(`cmd:${name}`, data)

export const isCommandName = (name: string): name is CommandName => (COMMAND_NAMES as readonly string[]).includes(name)
