// The hub mode's composition root (the edge's is edge/main.ts): the one place the hub's real side
// effects are wired together — the policy file, the kernel (xfrm interfaces, rtnetlink, nftables), one
// charon with kernel ESP on the standard IKE ports, the STAMP reflector, the control socket, the signals.
//   SIGTERM/SIGINT  stop: the reflector and charon end (the tunnels' SAs with it, so their interfaces
//                   drop); interfaces, rules and routes stay unless started with --flush-on-exit.
//   SIGHUP          reload the policy file: validated first; on any problem the running policy stays.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Server } from 'node:net'
import { readAuthKeyFile } from '../../probes/stamp/key-file.js'
import { startReflector } from '../../probes/stamp/reflector-server.js'
import { formatPolicyError } from '../config/errors.js'
import { serveControl } from '../daemon/control-socket.js'
import { createLogger } from '../daemon/logger.js'
import { CharonSupervisor } from '../dataplane/ipsec/charon-supervisor.js'
import { xfrmInterfaceMissing } from '../dataplane/ipsec/ipsec-backend.js'
import { nodeSpawnCharon } from '../dataplane/ipsec/node-spawn.js'
import { INERT_RULE_FWMARK } from '../dataplane/ipsec/tunnel-plan.js'
import { XfrmInterfaces } from '../dataplane/ipsec/xfrm-interface.js'
import { NftCliPort } from '../dataplane/nft/port.js'
import { RtnlKernelPort } from '../dataplane/rtnl/port.js'
import { ViciClient } from '../dataplane/vici/client.js'
import { ViciEventSubscriber } from '../dataplane/vici/event-subscriber.js'
import { realTimers } from '../dataplane/vici/retry.js'
import { unixSocketConnect } from '../dataplane/vici/unix-socket.js'
import type { RunIo, RunOptions } from '../main.js'
import { espMissing } from './esp-probe.js'
import { HubDaemon } from './hub-daemon.js'
import { readHubPolicy } from './load.js'
import { CHARON_TABLE, HUB_OWNERSHIP } from './ownership.js'

/** Why the hub cannot run here, naming every kernel feature it lacks; undefined when it can. */
export async function hubKernelProblem(xfrm: XfrmInterfaces, esp: () => Promise<string | undefined> = espMissing): Promise<string | undefined> {
  const missing = [await xfrmInterfaceMissing(xfrm), await esp()].filter((m): m is string => m !== undefined)
  if (missing.length === 0) return undefined
  return (
    `the hub mode needs kernel ESP with xfrm interfaces (CONFIG_XFRM_INTERFACE and CONFIG_INET_ESP; ` +
    `modules xfrm_interface and esp4): ${missing.join('; ')}. This kernel can run the edge role only (kernel-libipsec); ` +
    `run the hub on a kernel that has them (a Debian kernel does).`
  )
}

async function interfaceCounters(device: string): Promise<{ rxPackets: number; txPackets: number } | undefined> {
  try {
    const read = async (name: string): Promise<number> => Number((await readFile(`/sys/class/net/${device}/statistics/${name}`, 'utf8')).trim())
    return { rxPackets: await read('rx_packets'), txPackets: await read('tx_packets') }
  } catch {
    return undefined
  }
}

/** Runs the hub until a stop signal. Returns the exit status: 0 clean stop, 1 could not start, 2 invalid policy. */
export async function runHub(opts: RunOptions, io: RunIo): Promise<number> {
  const first = await readHubPolicy(opts.policyFile)
  if (!first.ok) {
    io.stderr(first.errors.map(e => formatPolicyError(e) + '\n').join(''))
    return 2
  }
  const xfrm = new XfrmInterfaces()
  const problem = await hubKernelProblem(xfrm)
  if (problem) {
    xfrm.close()
    io.stderr(`sdwan-edge run: cannot start the hub: ${problem}\n`)
    return 1
  }
  const log = createLogger(opts.logLevel, opts.pretty)
  const runDir = join(opts.stateDir, 'charon')
  await mkdir(runDir, { recursive: true })
  const viciSocket = join(runDir, 'hub.vici')
  let daemon: HubDaemon | undefined
  let restarting = false
  const charon = new CharonSupervisor(
    {
      name: 'hub',
      ipsec: 'kernel',
      confPath: join(runDir, 'hub.strongswan.conf'),
      viciSocketPath: viciSocket,
      ikePort: 500,
      natTPort: 4500,
      routingTable: CHARON_TABLE,
      routingTablePrio: CHARON_TABLE,
      installRoutes: false,
      routeRuleFwmark: INERT_RULE_FWMARK,
    },
    { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
    {
      restartBackoff: { initialMs: 200, maxMs: 10_000 },
      onLog: line => log.debug({ charon: line }, 'charon'),
      onEvent: event => {
        if (event.kind === 'exited') log[event.willRestart ? 'error' : 'info']({ code: event.code, signal: event.signal }, 'charon exited')
        if (event.kind === 'restart-scheduled') restarting = true
        if (event.kind === 'ready' && restarting) {
          restarting = false
          void daemon?.charonRestarted().catch((err: Error) => log.error({ err }, 'reloading conns into the restarted charon failed'))
        }
      },
    },
  )
  const kernel = new RtnlKernelPort(HUB_OWNERSHIP)
  daemon = new HubDaemon(first.policy, {
    kernel,
    nft: new NftCliPort(),
    xfrm,
    sysctl: (path, value) => writeFile(`/proc/sys/net/${path}`, value),
    readFile: path => readFile(path),
    charon,
    vici: () => ViciClient.connect(unixSocketConnect(viciSocket)),
    reflect: (address, port, authKey) => startReflector({ address, port, authKey }),
    readAuthKey: readAuthKeyFile,
    counters: interfaceCounters,
    log,
    wallNow: Date.now,
  })
  const hub = daemon
  const refresh = (): void => void hub.refreshSas().catch((err: Error) => log.warn({ err }, 'reading the spoke tunnels’ SAs failed'))
  const events = new ViciEventSubscriber({
    connect: unixSocketConnect(viciSocket),
    events: ['ike-updown', 'child-updown'],
    onEvent: refresh,
    onRegistered: refresh,
    onDisconnected: (reason, retryInMs) => log.debug({ reason: reason.message, retryInMs }, 'VICI event connection lost'),
    timers: realTimers,
    backoff: { initialMs: 200, maxMs: 5000 },
  })

  let server: Server | undefined
  try {
    await hub.start()
    events.start()
    server = await serveControl(opts.socket, async command => {
      if (command === 'status') return hub.status()
      throw new Error(`unknown command '${command}'; known: status`)
    })
  } catch (err) {
    log.error({ err }, 'hub start-up failed')
    await events.stop()
    await hub.stop(false).catch(() => undefined)
    kernel.close()
    xfrm.close()
    return 1
  }

  const reload = async (): Promise<void> => {
    const next = await readHubPolicy(opts.policyFile)
    if (!next.ok) {
      log.error({ problems: next.errors.map(formatPolicyError) }, 'reload refused: the policy file is invalid; the running policy stays')
      return
    }
    await hub.reload(next.policy).catch((err: Error) => log.error({ err }, 'reload failed; the running policy stays'))
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
  await events.stop()
  await hub.stop(opts.flushOnExit)
  kernel.close()
  xfrm.close()
  log.info({}, 'hub stopped')
  return 0
}
