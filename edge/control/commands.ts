// Commands the orchestrator sends on PREFIX/SITE/DEVICE/cmd/NAME: their typed requests and replies, and
// a dispatcher that validates a raw MQTT payload (command-request.schema.json, then the names against
// the running policy) before an injected handler sees it. Bad input gets an error reply, never a throw.
import type { SitePolicy } from '../config/policy.js'
import { isCommandName, validateCommandArguments, type CommandName } from '../telemetry/payload-schemas.js'

export type StatusRequest = Record<string, never>
export interface ProbeNowRequest {
  /** Paths (uplink or tunnel names) to probe; all when absent. */
  readonly paths?: string[]
}
export interface ReSteerRequest {
  /** Classes to decide again; all when absent. */
  readonly classes?: string[]
  readonly reason?: string
}
export interface FlushRequest {
  /** flows: drop established flow state so flows take the current decisions; spool: deliver the spool now. */
  readonly what: 'flows' | 'spool'
  readonly classes?: string[]
}

export interface PathStatus {
  readonly path: string
  readonly state: 'up' | 'degraded' | 'down'
  readonly reason: string
}

export interface StatusReply {
  readonly serial: number
  readonly policySource: 'local' | 'pushed'
  readonly onProbation: boolean
  readonly uptimeS: number
  readonly paths: PathStatus[]
  readonly telemetry: { link: string; spoolPending: number; spoolBytes: number; delivered: number }
}
export interface ProbeNowReply {
  readonly probed: string[]
}
export interface ReSteerReply {
  /** Classes whose decision changed. */
  readonly changed: string[]
}
export interface FlushReply {
  /** Flow entries removed (flows), or records still waiting in the spool (spool). */
  readonly flushed: number
}

/** The part of the status the daemon knows; the controller adds policy and telemetry state. */
export type EdgeStatus = Pick<StatusReply, 'uptimeS' | 'paths'>

/** Every command's effect, as runCommand calls it (controller.ts builds these from the daemon's). */
export interface CommandHandlers {
  status(): Promise<StatusReply>
  probeNow(request: ProbeNowRequest): Promise<ProbeNowReply>
  reSteer(request: ReSteerRequest): Promise<ReSteerReply>
  flush(request: FlushRequest): Promise<FlushReply>
}

export type CommandErrorCode = 'bad-json' | 'bad-request' | 'unknown-command' | 'unknown-name' | 'failed' | 'bad-response-topic'

export type CommandOutcome =
  | { readonly command: string; readonly ok: true; readonly result: object }
  | { readonly command: string; readonly ok: false; readonly error: { code: CommandErrorCode; message: string } }

const failure = (command: string, code: CommandErrorCode, message: string): CommandOutcome => ({ command, ok: false, error: { code, message } })

/** Names in `requested` that the running policy does not define. */
function unknownNames(requested: readonly string[] | undefined, known: readonly string[]): string[] {
  return (requested ?? []).filter(name => !known.includes(name))
}

/** Validates and runs one command. `policy` is the running policy, for checking path and class names. */
export async function runCommand(name: string, payload: Buffer, policy: SitePolicy, handlers: CommandHandlers): Promise<CommandOutcome> {
  if (!isCommandName(name)) return failure(name, 'unknown-command', `no command '${name}'; commands: status, probe-now, re-steer, flush`)
  let request: unknown
  try {
    request = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'))
  } catch (error) {
    return failure(name, 'bad-json', `the request is not JSON: ${(error as Error).message}`)
  }
  const valid = validateCommandArguments(name, request)
  if (!valid.ok) return failure(name, 'bad-request', `invalid ${name} request: ${valid.problems.join('; ')}`)
  const paths = [...policy.uplinks.map(u => u.name), ...policy.tunnels.map(t => t.name)]
  const classes = policy.classes.map(c => c.name)
  const unknown = [
    ...unknownNames((request as ProbeNowRequest).paths, paths).map(p => `path '${p}' (paths: ${paths.join(', ')})`),
    ...unknownNames((request as ReSteerRequest).classes, classes).map(c => `class '${c}' (classes: ${classes.join(', ')})`),
  ]
  if (unknown.length > 0) return failure(name, 'unknown-name', `serial ${policy.serial} has no ${unknown.join(', no ')}`)
  try {
    return { command: name, ok: true, result: await dispatch(name, request, handlers) }
  } catch (error) {
    return failure(name, 'failed', `${name} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function dispatch(name: CommandName, request: unknown, handlers: CommandHandlers): Promise<object> {
  switch (name) {
    case 'status':
      return handlers.status()
    case 'probe-now':
      return handlers.probeNow(request as ProbeNowRequest)
    case 're-steer':
      return handlers.reSteer(request as ReSteerRequest)
    case 'flush':
      return handlers.flush(request as FlushRequest)
  }
}
