// The whole simulated branch on the host kernel: the lab topology, STAMP reflectors at the far ends,
// the hub's IPsec responders for the edge's tunnels (hub-ipsec.ts, with a PSK the lab writes into its
// work dir), and the real edge daemon running the lab policy inside the edge namespace. `npm run lab` and the
// daemon tests both drive it. Every process it starts runs inside a lab namespace and is stopped by
// stop(), which also tears the namespaces down.
import { randomBytes } from 'node:crypto'
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { askControl } from '../../edge/daemon/control-socket.js'
import type { StatusReport } from '../../edge/daemon/status.js'
import type { CommandRunner } from './command-runner.js'
import { startHubResponders, type HubResponders } from './hub-ipsec.js'
import { buildLab, teardownLab, type Lab } from './lab-network.js'
import { LAB_EDGE_ID, LAB_ESP_PROPOSALS, LAB_HUB_ID, LAB_IKE_PROPOSALS, LAB_TUNNELS, labPolicy, type LabPolicyOptions, type LabTunnelName } from './lab-policy.js'
import { lineSplitter, type LongRunningProcess, type SpawnLongRunning } from './long-running-process.js'
import { startBroker, type Broker } from './mosquitto-broker.js'
import { retailBranch, type NodeName } from './topology.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const TSX = import.meta.resolve('tsx')
const CLI = join(REPO, 'edge/cli/bin.ts')

export interface BranchDeps {
  run: CommandRunner
  spawn: SpawnLongRunning
  sleep(ms: number): Promise<void>
  now(): number
}

export interface BranchOptions {
  prefix: string
  /** Policy file, control socket, state and logs go here. */
  workDir: string
  policy?: LabPolicyOptions
  logLevel?: string
  /** charon filelog level of the hub's responders (their lines go to Branch.hubLog). */
  hubLogLevel?: number
  /** Run the orchestrator's MQTT broker in the data centre and have the edge report to it. */
  broker?: boolean
  /**
   * Node's arguments before the daemon's own (`run --policy …`): default the CLI's source under tsx; the
   * failover bench passes the compiled CLI (dist/edge/cli/bin.js), as the firmware runs it.
   */
  daemonNodeArgs?: readonly string[]
}

/** Where the lab's orchestrator broker listens: the hub's data-centre service address. */
export const LAB_BROKER_PORT = 1883

/** Datagrams a UDP sink received, parsed: when, from where, what. */
export interface Arrival {
  at: number
  source: string
  payload: string
}

export interface Sink {
  readonly arrivals: Arrival[]
  /** Resolves with the first arrival after `fromIndex` matching `predicate`. */
  waitFor(predicate: (a: Arrival) => boolean, timeoutMs: number, what: string, fromIndex?: number): Promise<Arrival>
  stop(): void
}

export interface Branch {
  readonly lab: Lab
  readonly policyFile: string
  /** The PSK both tunnels use; a re-rendered lab policy must name it too (LabPolicyOptions.pskFile). */
  readonly pskFile: string
  /** The orchestrator's broker, when started with `broker: true`. */
  readonly broker: Broker | undefined
  readonly socket: string
  readonly daemonLog: string[]
  /** The daemon's process id (\`ip netns exec\` execs it in place), for resource figures. */
  readonly daemonPid: number | undefined
  /** The hub's IPsec responders (one charon per edge tunnel), and what their charons logged. */
  readonly hub: HubResponders
  readonly hubLog: string[]
  status(): Promise<StatusReport>
  waitForStatus(predicate: (s: StatusReport) => boolean, timeoutMs: number, what: string): Promise<StatusReport>
  startSink(node: NodeName, address: string, port: number): Promise<Sink>
  /** A steady UDP flow from `node` (fixed source port: one conntrack flow for its whole life). */
  startFlow(node: NodeName, dst: string, port: number, srcPort: number, intervalMs: number, tag: string): LongRunningProcess
  /** Stops the daemon alone (SIGTERM: it flushes what it owns) and resolves with its exit code. */
  stopDaemon(): Promise<number | null>
  /** Stops every process it started (the daemon with SIGTERM, so it flushes) and tears the lab down. */
  stop(): Promise<void>
}

/** The store segment's /24 from its gateway address (the lab policy's store prefix). */
function labPolicyStorePrefix(gateway: string): string {
  return `${gateway.replace(/\.\d+$/, '.0')}/24`
}

export class BranchTimeout extends Error {
  override readonly name = 'BranchTimeout'
}

export async function startBranch(options: BranchOptions, deps: BranchDeps): Promise<Branch> {
  const topology = retailBranch(options.prefix)
  await mkdir(options.workDir, { recursive: true })
  const policyFile = join(options.workDir, 'policy.yaml')
  const socket = join(options.workDir, 'edge.sock')
  const pskFile = join(options.workDir, 'dc1.psk')
  const psk = randomBytes(24).toString('base64url')
  await writeFile(pskFile, `${psk}\n`, { mode: 0o600 })
  const telemetry = options.broker ? { telemetry: { broker: `mqtt://${topology.addresses.hubService}:${LAB_BROKER_PORT}` } } : {}
  await writeFile(policyFile, labPolicy(topology, { pskFile, ...telemetry, ...options.policy }))
  const lab = await buildLab(topology, deps.run)
  let broker: Broker | undefined
  let hub: HubResponders | undefined
  const hubLog: string[] = []
  const processes: LongRunningProcess[] = []
  const inNode = (node: NodeName, argv: string[]): LongRunningProcess => {
    const p = deps.spawn(['ip', 'netns', 'exec', topology.namespaces[node], ...argv])
    processes.push(p)
    return p
  }
  const daemonLog: string[] = []
  const stopAll = async (): Promise<void> => {
    for (const p of processes.reverse()) p.kill('SIGTERM')
    await Promise.all(processes.map(p => Promise.race([p.exited.catch(() => null), deps.sleep(5000)])))
    for (const p of processes) p.kill('SIGKILL')
    await hub?.stop().catch(() => undefined)
    await broker?.stop().catch(() => undefined)
    await teardownLab(options.prefix, deps.run)
  }
  try {
    const store = labPolicyStorePrefix(topology.addresses.storeGateway)
    hub = await startHubResponders(
      {
        netns: topology.namespaces.hub,
        runDir: join(options.workDir, 'hub'),
        ikePortBase: 15_500,
        // Both tunnels end at the hub's one public address: a DNAT per edge address picks the responder.
        publicPorts: true,
        ...(options.hubLogLevel !== undefined ? { logLevel: options.hubLogLevel } : {}),
        onLog: (tunnel, line) => {
          hubLog.push(`${tunnel} ${line}`)
          hubLog.splice(0, Math.max(0, hubLog.length - 500))
        },
        tunnels: (Object.keys(LAB_TUNNELS) as LabTunnelName[]).map(name => {
          const t = LAB_TUNNELS[name]
          return {
            name,
            edgeAddress: topology.uplinks[t.uplink].address,
            hubAddress: topology.addresses.hubPublic,
            edgeId: LAB_EDGE_ID,
            hubId: LAB_HUB_ID,
            psk,
            hubInner: `${t.hubInner}/30`,
            edgeInner: t.edgeInner.split('/')[0]!,
            hubPrefixes: ['10.20.0.0/16'],
            edgePrefixes: [store],
            ikeProposals: LAB_IKE_PROPOSALS,
            espProposals: LAB_ESP_PROPOSALS,
          }
        }),
      },
      deps.run,
    )
    if (options.broker) broker = await startBroker({ namespace: topology.namespaces.hub, address: topology.addresses.hubService, port: LAB_BROKER_PORT })
    // STAMP reflectors: the internet host and the hub's MPLS address for direct paths, the hub's inner
    // address of each tunnel for the tunnel paths (the probes cross the tunnel).
    const reflectors: Array<readonly [NodeName, string]> = [
      ['inet', topology.addresses.internetHost],
      ['hub', topology.addresses.hubMpls],
      ...Object.values(LAB_TUNNELS).map(t => ['hub', t.hubInner] as const),
    ]
    for (const [node, address] of reflectors) {
      inNode(node, [process.execPath, '--import', TSX, CLI, 'reflect', '--address', address, '--port', '862', '--rate', '1000'])
    }
    const daemon = inNode('edge', [
      process.execPath, ...(options.daemonNodeArgs ?? ['--import', TSX, CLI]), 'run', '--policy', policyFile, '--socket', socket,
      '--state-dir', join(options.workDir, 'state'), '--flush-on-exit', '--log-level', options.logLevel ?? 'info',
    ])
    const collect = lineSplitter(line => daemonLog.push(line))
    daemon.onStdout(collect)
    daemon.onStderr(collect)
    const status = async (): Promise<StatusReport> => {
      const reply = await askControl(socket, 'status')
      if (!reply.ok) throw new Error(`daemon refused status: ${reply.error}`)
      return reply.result as StatusReport
    }
    const waitForStatus = async (predicate: (s: StatusReport) => boolean, timeoutMs: number, what: string): Promise<StatusReport> => {
      const until = deps.now() + timeoutMs
      let last: unknown
      while (deps.now() < until) {
        const exit = await Promise.race([daemon.exited, deps.sleep(0).then(() => 'running' as const)])
        if (exit !== 'running') throw new Error(`the daemon exited (${String(exit)}) while waiting for ${what}:\n${daemonLog.slice(-20).join('\n')}`)
        try {
          const s = await status()
          if (predicate(s)) return s
          last = s
        } catch (err) {
          last = err
        }
        await deps.sleep(50)
      }
      throw new BranchTimeout(`no ${what} within ${timeoutMs} ms; last: ${JSON.stringify(last instanceof Error ? last.message : last)}`)
    }
    await waitForStatus(() => true, 20_000, 'answer on the control socket')
    return {
      lab,
      policyFile,
      pskFile,
      broker,
      socket,
      daemonLog,
      daemonPid: daemon.pid,
      hub,
      hubLog,
      status,
      waitForStatus,
      async startSink(node, address, port) {
        const arrivals: Arrival[] = []
        let ready: () => void = () => undefined
        const listening = new Promise<void>(resolve => (ready = resolve))
        const proc = inNode(node, [process.execPath, join(REPO, 'images/lab/udp-sink.mjs'), address, String(port)])
        let buf = ''
        proc.onStdout(text => {
          const lines = (buf + text).split('\n')
          buf = lines.pop() ?? ''
          for (const line of lines) {
            if (line.startsWith('listening')) ready()
            const m = /^(\d+) ([\d.]+):\d+ (.*)$/.exec(line)
            if (m) arrivals.push({ at: Number(m[1]), source: m[2]!, payload: m[3]! })
          }
        })
        await Promise.race([listening, deps.sleep(10_000).then(() => Promise.reject(new Error(`UDP sink in ${node} did not start`)))])
        return {
          arrivals,
          async waitFor(predicate, timeoutMs, what, fromIndex = 0) {
            const until = deps.now() + timeoutMs
            while (deps.now() < until) {
              const hit = arrivals.slice(fromIndex).find(predicate)
              if (hit) return hit
              await deps.sleep(20)
            }
            throw new BranchTimeout(`no ${what} within ${timeoutMs} ms (last arrivals: ${arrivals.slice(-3).map(a => `${a.source} ${a.payload}`).join('; ')})`)
          },
          stop: () => proc.kill('SIGTERM'),
        }
      },
      startFlow(node, dst, port, srcPort, intervalMs, tag) {
        return inNode(node, [process.execPath, join(REPO, 'images/lab/udp-sender.mjs'), dst, String(port), String(srcPort), String(intervalMs), tag])
      },
      async stopDaemon() {
        daemon.kill('SIGTERM')
        return daemon.exited
      },
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
