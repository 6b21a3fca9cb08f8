// Wires central management onto the telemetry client: policy pushes to the PolicyManager, command
// requests to the daemon's handlers, and replies per MQTT 5 request/response (§4.10): to the request's
// Response Topic — which must lie below PREFIX/SITE/DEVICE/reply, the only place the broker ACL lets the
// device publish replies — with its Correlation Data echoed; without a Response Topic, to
// PREFIX/SITE/DEVICE/reply. Messages are handled one at a time, in arrival order.
import type { ReceivedMessage } from '../telemetry/mqtt-port.js'
import { PAYLOAD_VERSION } from '../telemetry/payloads.js'
import type { TelemetryClient, TelemetryLog } from '../telemetry/telemetry-client.js'
import { isOwnReplyTopic } from '../telemetry/topics.js'
import type { WallClock } from '../telemetry/timers.js'
import { systemClock } from '../telemetry/timers.js'
import { runCommand, type CommandHandlers, type CommandOutcome, type EdgeStatus, type FlushReply, type FlushRequest, type ProbeNowReply, type ProbeNowRequest, type ReSteerReply, type ReSteerRequest } from './commands.js'
import type { PolicyManager, PolicyManagerOptions } from './policy-manager.js'
import type { PolicyOutcome } from './policy-outcome.js'

/** What the daemon must supply for commands; `flush spool` and the policy/telemetry status are handled here. */
export interface DaemonCommandHandlers {
  status(): Promise<EdgeStatus>
  probeNow(request: ProbeNowRequest): Promise<ProbeNowReply>
  reSteer(request: ReSteerRequest): Promise<ReSteerReply>
  /** Drops established flow state (conntrack, sticky pins) so flows take the current decisions. */
  flushFlows(request: FlushRequest): Promise<FlushReply>
}

export interface ControlOptions {
  readonly telemetry: TelemetryClient
  readonly policies: PolicyManager
  readonly handlers: DaemonCommandHandlers
  readonly clock?: WallClock
  readonly log?: TelemetryLog
}

export interface Control {
  /** Resolves when every message received so far has been handled and answered. */
  settled(): Promise<void>
}

/**
 * How the PolicyManager reports over telemetry: outcomes are spooled (delivered even after an outage);
 * `confirm` publishes the 'applied' outcome directly, on the current connection or the next one, and
 * resolves on its PUBACK — the broker round trip that proves the new policy left the edge manageable.
 */
export function policyOutcomeChannel(telemetry: TelemetryClient): Pick<PolicyManagerOptions, 'confirm' | 'report'> {
  return {
    report: outcome => telemetry.publishPolicyOutcome({ ...outcome }),
    confirm: (applied, signal) =>
      new Promise<void>((resolve, reject) => {
        let done = false
        const finish = (settle: () => void) => {
          if (done) return
          done = true
          stopListening()
          signal.removeEventListener('abort', onAbort)
          settle()
        }
        const attempt = async () => {
          if (done) return
          try {
            await telemetry.publishNow(telemetry.topics.policyOutcome, { v: PAYLOAD_VERSION, ...telemetry.stamp(), ...applied })
            finish(resolve)
          } catch {
            // Not connected, or the connection died under the publish: the next connection tries again.
          }
        }
        const onAbort = () => finish(() => reject(new Error('the grace period ended without a broker round trip')))
        const stopListening = telemetry.onConnected(() => void attempt())
        if (signal.aborted) return onAbort()
        signal.addEventListener('abort', onAbort)
        void attempt()
      }),
  }
}

export function attachControl(options: ControlOptions): Control {
  const { telemetry, policies } = options
  const clock = options.clock ?? systemClock
  let queue: Promise<unknown> = Promise.resolve()
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch(error => options.log?.warn(`control: ${(error as Error).message}`))
  }

  const handlers: CommandHandlers = {
    async status() {
      const edge = await options.handlers.status()
      const t = telemetry.status()
      return {
        serial: policies.running.policy.serial,
        policySource: policies.running.source,
        onProbation: policies.onProbation,
        ...edge,
        telemetry: { link: t.link, spoolPending: t.delivery.spool.pending, spoolBytes: t.delivery.spool.bytes, delivered: t.delivery.delivered },
      }
    },
    probeNow: request => options.handlers.probeNow(request),
    reSteer: request => options.handlers.reSteer(request),
    async flush(request) {
      if (request.what === 'flows') return options.handlers.flushFlows(request)
      telemetry.retryNow()
      await telemetry.settled()
      return { flushed: telemetry.status().delivery.spool.pending }
    },
  }

  /** Where to answer, or why the requested response topic is refused. */
  const replyTarget = (message: ReceivedMessage): { topic: string; refused?: string } => {
    const own = telemetry.topics.replies
    if (message.responseTopic === undefined) return { topic: own }
    if (isOwnReplyTopic(telemetry.topics, message.responseTopic)) return { topic: message.responseTopic }
    return { topic: own, refused: `response topic '${message.responseTopic}' is not below ${own}; the device may only reply there` }
  }

  const reply = async (topic: string, body: object, correlationData?: Buffer) => {
    try {
      await telemetry.publishNow(topic, body, correlationData)
    } catch (error) {
      options.log?.warn(`control: reply to ${topic} not sent: ${(error as Error).message}`)
    }
  }

  telemetry.handle(
    topics => topics.commandRequests,
    message =>
      enqueue(async () => {
        const name = message.topic.slice(message.topic.lastIndexOf('/') + 1)
        const target = replyTarget(message)
        const outcome: CommandOutcome = target.refused
          ? { command: name, ok: false, error: { code: 'bad-response-topic', message: target.refused } }
          : await runCommand(name, message.payload, policies.running.policy, handlers)
        await reply(target.topic, { v: PAYLOAD_VERSION, ts: new Date(clock.now()).toISOString(), ...outcome }, message.correlationData)
      }),
  )

  telemetry.handle(
    topics => topics.policyPush,
    message =>
      enqueue(async () => {
        const outcome: PolicyOutcome = await policies.handlePush(message.payload)
        // 'applied' is published by the probation's confirm; a reply is the requester's own copy.
        if (message.responseTopic === undefined) return
        const target = replyTarget(message)
        await reply(target.topic, { v: PAYLOAD_VERSION, ...telemetry.stamp(), ...outcome }, message.correlationData)
      }),
  )

  return { settled: () => queue.then(() => undefined) }
}
