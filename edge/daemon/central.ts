// Central management, wired: telemetry to the orchestrator's broker (state, metrics per path, events
// and decisions, inventory), signed policy pushes through the PolicyManager (probation and self
// rollback), and the orchestrator's commands answered from the running daemon. Only a policy with a
// `telemetry` section gets any of it.
import { PolicyManager } from '../control/policy-manager.js'
import { attachControl, policyOutcomeChannel } from '../control/controller.js'
import { PolicyStore } from '../control/policy-store.js'
import type { SitePolicy } from '../config/policy.js'
import { layout } from '../dataplane/layout.js'
import { classValue } from '../dataplane/marks.js'
import type { Decision } from '../dataplane/model.js'
import type { SteeringChange } from '../steering/decide.js'
import { MetricsReporter } from '../telemetry/metrics-reporter.js'
import { TelemetryClient } from '../telemetry/telemetry-client.js'
import { systemTimers } from '../telemetry/timers.js'
import type { EdgeDaemon } from './edge-daemon.js'

export interface CentralOptions {
  policy: SitePolicy & { telemetry: NonNullable<SitePolicy['telemetry']> }
  policyText: string
  stateDir: string
  firmware: string
  /** Puts a pushed policy into effect; throws when it cannot (the manager then reports apply-failed). */
  applyPolicy(policy: SitePolicy): Promise<void>
  /** Drops established flows whose ct mark has these bits under the mask (ctnetlink). */
  evictFlows(mark: number, mask: number): Promise<void>
  log: { info(o: object, m: string): void; warn(o: object, m: string): void }
}

export interface Central {
  /** The policy to run: a confirmed push newer than the local file wins. */
  readonly running: SitePolicy
  /** Starts talking to the broker, answering commands from `daemon`, and reporting metrics. */
  attach(daemon: EdgeDaemon): void
  /** Every re-steer becomes an event, and the new decisions are published. */
  onChanges(changes: readonly SteeringChange[], decisions: readonly Decision[]): void
  /** A policy now in force (a push or a SIGHUP reload): new broker settings, report interval. */
  reconfigure(policy: SitePolicy): Promise<void>
  stop(): Promise<void>
}

export async function openCentral(o: CentralOptions): Promise<Central> {
  const telemetryLog = { info: (m: string) => o.log.info({}, m), warn: (m: string) => o.log.warn({}, m) }
  let running: SitePolicy = o.policy
  const telemetry = await TelemetryClient.open({
    identity: { site: o.policy.site.id, device: o.policy.device.id },
    settings: o.policy.telemetry,
    firmware: o.firmware,
    stateDir: o.stateDir,
    runningSerial: () => running.serial,
    log: telemetryLog,
  })
  const policies = await PolicyManager.open({
    store: new PolicyStore(o.stateDir),
    local: { policy: o.policy, text: o.policyText },
    applyPolicy: policy => o.applyPolicy(policy),
    timers: systemTimers,
    ...policyOutcomeChannel(telemetry),
    log: { warn: m => o.log.warn({}, m) },
  })
  running = policies.running.policy
  let reporter: MetricsReporter | undefined
  return {
    running,
    attach(daemon) {
      reporter = new MetricsReporter({
        report: (metrics, health) => telemetry.reportMetrics(metrics, health),
        snapshot: () => {
          const s = daemon.snapshot()
          return Object.entries(s.health).map(([path, health]) => ({ metrics: s.metrics[path], health }))
        },
        timers: { setInterval, clearInterval: h => clearInterval(h as NodeJS.Timeout) },
      })
      attachControl({
        telemetry,
        policies,
        handlers: {
          status: async () => {
            const s = daemon.snapshot()
            return { uptimeS: Math.round((Date.now() - s.startedAt) / 1000), paths: Object.entries(s.health).map(([path, h]) => ({ path, state: h.state, reason: h.reason })) }
          },
          // Paths are probed all the time; "now" means fresh figures reported now and a steering round.
          probeNow: async request => {
            await daemon.resteer()
            await reporter!.reportNow()
            return { probed: request.paths ?? Object.keys(daemon.snapshot().health) }
          },
          reSteer: async () => ({ changed: await daemon.resteer() }),
          flushFlows: async request => {
            const policy = daemon.snapshot().policy
            const l = layout(policy)
            const classes = l.classes.filter(c => !request.classes || request.classes.includes(c.name))
            for (const c of classes) await o.evictFlows(classValue(l.marks, c.id), l.marks.classMask)
            return { flushed: classes.length }
          },
        },
        log: telemetryLog,
      })
      telemetry.start()
      reporter.every(running.telemetry!.reportIntervalS)
    },
    onChanges(changes, decisions) {
      for (const c of changes) {
        void telemetry.publishEvent({
          type: 're-steer',
          severity: c.to.length === 0 ? 'error' : 'warning',
          message: `${c.class}: ${c.from.join('+') || 'dropped'} → ${c.to.join('+') || 'dropped'}: ${c.reason}`,
          data: { class: c.class, from: c.from, to: c.to, paths: c.paths },
        })
      }
      void telemetry.publishDecisions(decisions)
    },
    async reconfigure(policy) {
      running = policy
      if (!policy.telemetry) return
      await telemetry.reconfigure({ site: policy.site.id, device: policy.device.id }, policy.telemetry)
      reporter?.every(policy.telemetry.reportIntervalS)
    },
    async stop() {
      reporter?.stop()
      await telemetry.stop()
    },
  }
}
