// The composition root: the one place the edge daemon's real side effects are wired together — the
// policy file, the kernel (rtnetlink + nftables), the probe engine and its I/O thread, IPsec tunnels, the
// decision log, the control socket, central management over MQTT, and the process signals.
//   SIGTERM/SIGINT  stop; forwarding stays as it is (fail-static) unless started with --flush-on-exit.
//   SIGHUP          reload the policy file: validated first; on any problem the running policy stays.
import { appendFile, mkdir, readFile, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Server } from 'node:net'
import { monotonicMs } from '../probes/clock.js'
import { ProbeEngine } from '../probes/engine/engine.js'
import { readAuthKeyFile } from '../probes/stamp/key-file.js'
import { formatPolicyError } from './config/errors.js'
import { readPolicy } from './config/load.js'
import type { SitePolicy } from './config/policy.js'
import { chooseIpsecBackend, xfrmInterfaceMissing, type IpsecBackendChoice } from './dataplane/ipsec/ipsec-backend.js'
import { nodeTunnelManager, tunnelPlanOptions } from './dataplane/ipsec/node-tunnels.js'
import { XfrmInterfaces } from './dataplane/ipsec/xfrm-interface.js'
import { ownershipOf } from './dataplane/ports.js'
import { openKernelSession } from './dataplane/session.js'
import { CtnetlinkConntrackPort } from './dataplane/conntrack.js'
import type { Central } from './daemon/central.js'
import { serveControl } from './daemon/control-socket.js'
import { DecisionLog } from './daemon/decision-log.js'
import { EdgeDaemon } from './daemon/edge-daemon.js'
import { createLogger } from './daemon/logger.js'
import { probeInterval } from './daemon/probe-targets.js'
import { statusReport } from './daemon/status.js'
import { nodeSysctlFs } from './dataplane/node-sysctl.js'
import { loosenStrictRpFilter } from './dataplane/rp-filter.js'
import pkg from '../package.json' with { type: 'json' }

export interface RunOptions {
  policyFile: string
  socket: string
  stateDir: string
  flushOnExit: boolean
  logLevel: string
  /** Which IPsec backend runs the tunnels; `auto` asks the kernel once, here at start. */
  ipsecBackend: IpsecBackendChoice
  pretty: boolean
}

export interface RunIo {
  stderr(text: string): void
  /** Resolves when the process is asked to stop; `onReload` is called for each reload request. */
  signals(onStop: () => void, onReload: () => void): () => void
}

/** Runs the daemon until a stop signal. Returns the exit status: 0 clean stop, 2 invalid policy. */
export async function runEdge(opts: RunOptions, io: RunIo): Promise<number> {
  const first = await readPolicy(opts.policyFile)
  if (!first.ok) {
    io.stderr(first.errors.map(e => formatPolicyError(e) + '\n').join(''))
    return 2
  }
  let policy: SitePolicy = first.policy
  const log = createLogger(opts.logLevel, opts.pretty)
  await mkdir(opts.stateDir, { recursive: true })
  // Switches to a validated policy, from a SIGHUP reload or an orchestrator's push; throws when it cannot.
  let switchPolicy: (next: SitePolicy) => Promise<void> = async () => {
    throw new Error('the daemon is not running yet')
  }
  const conntrack = new CtnetlinkConntrackPort()
  let central: Central | undefined
  if (policy.telemetry) {
    // Loaded only when the policy asks for central management: MQTT and the inventory's
    // systeminformation are ~6 MB of heap a standalone edge would carry for nothing.
    const { openCentral } = await import('./daemon/central.js')
    central = await openCentral({
      policy: { ...policy, telemetry: policy.telemetry },
      policyText: await readFile(opts.policyFile, 'utf8'),
      stateDir: opts.stateDir,
      firmware: `sdwan-edge ${pkg.version}`,
      applyPolicy: next => switchPolicy(next),
      evictFlows: (mark, mask) => conntrack.evict(mark, mask),
      log,
    })
    if (central.running.serial !== policy.serial) log.info({ serial: central.running.serial, file: policy.serial }, 'running the last confirmed pushed policy, newer than the file')
    policy = central.running
  }
  const authKey = policy.probes.authKeyFile ? await readAuthKeyFile(policy.probes.authKeyFile) : undefined
  const decisionLog = new DecisionLog(join(opts.stateDir, 'decisions.jsonl'), { appendFile, stat, rename }, err => log.error({ err }, 'decision log write failed'))
  const session = openKernelSession(ownershipOf(policy.dataplane), (event, fields) => log.info(fields, event))
  session.reconciler.watch()
  const snapshotIntervalMs = Math.min(...policy.uplinks.map(u => probeInterval(policy, u)))
  // IPsec tunnels: one charon per tunnel (edge/dataplane/ipsec), with kernel ESP over xfrm interfaces or
  // kernel-libipsec, reading the policy in force on every set(), so a reload's new tunnels, LAN prefixes or
  // secrets reach them.
  const ipsec = await chooseIpsecBackend(opts.ipsecBackend, async () => {
    const probe = new XfrmInterfaces()
    try {
      return await xfrmInterfaceMissing(probe)
    } finally {
      probe.close()
    }
  })
  log.info({ backend: ipsec.backend, reason: ipsec.reason }, `IPsec backend: ${ipsec.backend}`)
  const tunnels = nodeTunnelManager(() => policy, tunnelPlanOptions(policy, join(opts.stateDir, 'charon'), { backend: ipsec.backend }), (level, fields, msg) => log[level](fields, msg))
  const daemon = new EdgeDaemon(policy, {
    now: monotonicMs,
    wallNow: Date.now,
    timers: { setInterval, clearInterval: h => clearInterval(h as NodeJS.Timeout) },
    kernel: session.kernel,
    reconciler: session.reconciler,
    loosenRpFilter: devices => loosenStrictRpFilter(devices, nodeSysctlFs),
    startProbes: (targets, onSnapshots) => {
      const engine = ProbeEngine.start(targets, { windowSize: policy.probes.windowSize, snapshotIntervalMs, probeEvents: false })
      engine.on('error', err => log.error({ err }, 'probe engine error'))
      engine.on('snapshots', onSnapshots)
      return engine
    },
    log,
    onChanges: (changes, decisions, wallAt) => {
      void decisionLog.record(changes, wallAt)
      central?.onChanges(changes, decisions)
    },
    ...(authKey ? { authKey } : {}),
    tunnels,
  })

  let server: Server | undefined
  try {
    await daemon.start()
    server = await serveControl(opts.socket, async command => {
      if (command === 'status') return statusReport(daemon.snapshot(), monotonicMs(), ipsec)
      throw new Error(`unknown command '${command}'; known: status`)
    })
    central?.attach(daemon)
  } catch (err) {
    log.error({ err }, 'start-up failed')
    await central?.stop().catch(() => undefined)
    await daemon.stop(false).catch(() => undefined)
    await tunnels.stop().catch(() => undefined)
    tunnels.close()
    session.close()
    return 1
  }

  const reload = async (): Promise<void> => {
    const next = await readPolicy(opts.policyFile)
    if (!next.ok) {
      log.error({ problems: next.errors.map(formatPolicyError) }, 'reload refused: the policy file is invalid; the running policy stays')
      return
    }
    await switchPolicy(next.policy).catch((err: Error) => log.error({}, `reload refused: ${err.message}`))
  }
  switchPolicy = async next => {
    if (JSON.stringify(next.dataplane) !== JSON.stringify(policy.dataplane)) {
      throw new Error('the dataplane ownership ranges changed; stop with --flush and start again to move them')
    }
    await daemon.reload(next)
    policy = next
    await central?.reconfigure(next)
  }

  await new Promise<void>(resolve => {
    const unhook = io.signals(
      () => {
        unhook()
        resolve()
      },
      () => void reload(),
    )
  })
  server?.close()
  await central?.stop().catch(err => log.error({ err }, 'stopping telemetry failed'))
  await daemon.stop(opts.flushOnExit)
  // charon runs as our child: left behind it would hold the ports and VICI sockets the next start needs.
  await tunnels.stop().catch(err => log.error({ err }, 'stopping the IPsec tunnels failed'))
  tunnels.close()
  session.close()
  return 0
}
