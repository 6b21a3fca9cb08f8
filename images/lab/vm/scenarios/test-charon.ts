// A plain kernel-ESP charon the VM scenarios drive themselves over VICI (a hub responder, an edge
// initiator): supervised like the daemon's, in a namespace, on the IKE and NAT-T ports given. ESP in UDP
// is decapsulated only on socket-default's NAT-T socket, so peers talk to `natTPort`.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CharonSupervisor } from '../../../../edge/dataplane/ipsec/charon-supervisor.js'
import { nodeSpawnCharon } from '../../../../edge/dataplane/ipsec/node-spawn.js'
import { ViciClient } from '../../../../edge/dataplane/vici/client.js'
import { realTimers } from '../../../../edge/dataplane/vici/retry.js'
import { unixSocketConnect } from '../../../../edge/dataplane/vici/unix-socket.js'

export interface TestCharon {
  readonly supervisor: CharonSupervisor
  readonly client: ViciClient
}

export async function startTestCharon(
  name: string,
  netns: string,
  workDir: string,
  ports: { readonly ikePort: number; readonly natTPort: number },
  log: string[],
): Promise<TestCharon> {
  const supervisor = new CharonSupervisor(
    {
      name,
      ipsec: 'kernel',
      netns,
      confPath: join(workDir, `${name}.conf`),
      viciSocketPath: join(workDir, `${name}.vici`),
      ikePort: ports.ikePort,
      natTPort: ports.natTPort,
      routingTable: 220,
      routingTablePrio: 220,
      installRoutes: false,
    },
    { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
    { onLog: line => void log.push(line) },
  )
  await supervisor.start()
  return { supervisor, client: await ViciClient.connect(unixSocketConnect(supervisor.instance.viciSocketPath)) }
}
