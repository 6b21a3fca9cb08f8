// Two real charon-systemd daemons under CharonSupervisor, one in each namespace of a NetnsPair, with a VICI
// client each. Everything is torn down through t.teardown, in reverse order of creation, even on failure.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { CharonInstance } from '../../../../../edge/dataplane/ipsec/charon-config.js'
import { CharonSupervisor, type CharonSupervisorEvent } from '../../../../../edge/dataplane/ipsec/charon-supervisor.js'
import { nodeSpawnCharon } from '../../../../../edge/dataplane/ipsec/node-spawn.js'
import { renderTunnel, type IpsecTunnel, type TunnelCertificateFiles } from '../../../../../edge/dataplane/ipsec/tunnel-conn.js'
import { ViciClient } from '../../../../../edge/dataplane/vici/client.js'
import { realTimers } from '../../../../../edge/dataplane/vici/retry.js'
import { unixSocketConnect } from '../../../../../edge/dataplane/vici/unix-socket.js'
import { Recorder } from '../../vici/helpers/recorder.js'
import { createNetnsPair, type NetnsPair } from './netns-pair.js'

export const CHARON = '/usr/sbin/charon-systemd'
/** Not 500/4500: per-uplink charons each need ports of their own. */
export const IKE_PORT = 14500
export const NATT_PORT = 14501

export interface CharonSide {
  readonly supervisor: CharonSupervisor
  readonly client: ViciClient
  /** Supervisor events (spawned, ready, exited, restart-scheduled). */
  readonly events: Recorder<CharonSupervisorEvent>
}

export interface CharonPair {
  readonly net: NetnsPair
  readonly dir: string
  readonly a: CharonSide
  readonly b: CharonSide
}

/** Settings to change per side, e.g. fwmarks. */
export type InstanceOverrides = Partial<Pick<CharonInstance, 'routeRuleFwmark' | 'socketFwmark' | 'routingTable' | 'routingTablePrio'>>

export async function startCharonPair(t: Test, prefix: string, overrides: { a?: InstanceOverrides; b?: InstanceOverrides } = {}): Promise<CharonPair> {
  const dir = await mkdtemp(join(tmpdir(), `sdwan-${prefix}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const net = await createNetnsPair(prefix)
  t.teardown(() => net.destroy())

  const supervise = (side: 'a' | 'b'): { supervisor: CharonSupervisor; events: Recorder<CharonSupervisorEvent> } => {
    const instance: CharonInstance = {
      name: side,
      ipsec: 'libipsec',
      netns: net[side].netns,
      confPath: join(dir, `${side}.conf`),
      viciSocketPath: join(dir, `${side}.vici`),
      ikePort: IKE_PORT,
      natTPort: NATT_PORT,
      routingTable: 220,
      routingTablePrio: 220,
      installRoutes: true,
      ...overrides[side],
    }
    const log: string[] = []
    const events = new Recorder<CharonSupervisorEvent>()
    const supervisor = new CharonSupervisor(
      instance,
      { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
      { restartBackoff: { initialMs: 100, maxMs: 2000 }, onLog: line => log.push(line), onEvent: e => events.push(e) },
    )
    // Stop charon before its namespace goes; show its log when the test failed.
    t.teardown(async () => {
      await supervisor.stop()
      if (!t.passing()) t.comment(`charon ${side} log:\n${log.slice(-60).join('\n')}`)
    })
    return { supervisor, events }
  }
  const a = supervise('a')
  const b = supervise('b')
  await Promise.all([a.supervisor.start(), b.supervisor.start()])
  const clientA = await ViciClient.connect(unixSocketConnect(a.supervisor.instance.viciSocketPath))
  const clientB = await ViciClient.connect(unixSocketConnect(b.supervisor.instance.viciSocketPath))
  t.teardown(() => {
    clientA.close()
    clientB.close()
  })
  return { net, dir, a: { ...a, client: clientA }, b: { ...b, client: clientB } }
}

/** The tunnel as seen from `local` towards `remote` (inner /32s on each side's loopback). */
export function tunnelBetween(
  local: NetnsPair['a'],
  remote: NetnsPair['b'],
  ids: { local: string; remote: string },
  auth: IpsecTunnel['auth'],
): IpsecTunnel {
  return {
    name: 'up1-hub',
    local: { address: local.underlay, ikePort: IKE_PORT, id: ids.local },
    remote: { address: remote.underlay, ikePort: IKE_PORT, id: ids.remote },
    auth,
    localTs: [`${local.inner}/32`],
    remoteTs: [`${remote.inner}/32`],
    ikeProposals: ['aes256-sha256-x25519'],
    espProposals: ['aes256-sha256'],
  }
}

/** Loads a rendered tunnel's credentials and connection into one charon. */
export async function loadTunnel(client: ViciClient, tunnel: IpsecTunnel, files?: TunnelCertificateFiles): Promise<void> {
  const rendered = renderTunnel(tunnel, files)
  for (const key of rendered.keys) await client.loadKey(key)
  for (const secret of rendered.shared) await client.loadShared(secret)
  await client.loadConn(rendered.connName, rendered.loadConn)
}
