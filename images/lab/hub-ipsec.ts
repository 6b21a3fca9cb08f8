// The lab hub's side of the edge's IPsec tunnels: one kernel-libipsec responder charon per tunnel in the
// hub namespace (libipsec has one TUN per charon, and the hub must know which tunnel a packet came in on),
// each on IKE ports of its own. Test infrastructure: a real hub runs kernel ESP with xfrm interfaces.
//   - Ports: the edge talks to the hub's standard port 4500 (IKE and ESP, node-tunnels.ts). Where tunnels
//     come from different edge addresses, a DNAT per source address steers each to its responder's own
//     IKE port (`publicPorts`); otherwise the edge is told the responder ports directly. Any port but 500
//     carries the non-ESP marker in strongSwan's socket-default, so 4500 → 155xx keeps both ends agreeing.
//   - Routes: each responder's libipsec installs routes to the edge's selectors (branch LAN, edge inner
//     address) in a table of its own, looked up only for packets carrying the tunnel's mark.
//   - Return traffic stays on the tunnel it came in on: packets arriving from a responder's TUN set the
//     conntrack mark, and locally generated replies (the DC service and the STAMP reflector live on the
//     hub) copy it into the packet mark in a route-type output chain, which makes the kernel route again.
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CharonSupervisor } from '../../edge/dataplane/ipsec/charon-supervisor.js'
import { nodeSpawnCharon } from '../../edge/dataplane/ipsec/node-spawn.js'
import { loadTunnel, readTunnelCertificateFiles, renderTunnel, type TunnelAuth } from '../../edge/dataplane/ipsec/tunnel-conn.js'
import { tunNamesFromFdinfo } from '../../edge/dataplane/ipsec/tun-device.js'
import { ViciClient } from '../../edge/dataplane/vici/client.js'
import { realTimers } from '../../edge/dataplane/vici/retry.js'
import { unixSocketConnect } from '../../edge/dataplane/vici/unix-socket.js'
import { runChecked, type CommandRunner } from './command-runner.js'

export interface HubTunnel {
  readonly name: string
  /** The edge's underlay address for this tunnel, and the hub's. */
  readonly edgeAddress: string
  readonly hubAddress: string
  readonly edgeId: string
  readonly hubId: string
  readonly psk: string
  /** Certificate authentication instead of the PSK: the hub's certificate and key, and the CA it trusts. */
  readonly x509?: { readonly certPath: string; readonly keyPath: string; readonly caCertPath: string }
  /** Hub inner address with prefix length (the reflector answers on it) and the edge's inner address. */
  readonly hubInner: string
  readonly edgeInner: string
  /** The data centre's prefixes (the edge's remotePrefixes) and the branch's non-isolated LAN prefixes. */
  readonly hubPrefixes: readonly string[]
  readonly edgePrefixes: readonly string[]
  readonly ikeProposals: readonly string[]
  readonly espProposals: readonly string[]
}

export interface HubResponderOptions {
  readonly netns: string
  readonly runDir: string
  readonly tunnels: readonly HubTunnel[]
  /** Responder i listens on ikePortBase + 2i (IKE) and + 2i + 1 (NAT-T). */
  readonly ikePortBase: number
  /** DNAT the standard port 4500 from each tunnel's edge address to its responder. */
  readonly publicPorts: boolean
  /** Mark and table of responder i: markBase + i, tableBase + i. */
  readonly markBase?: number
  readonly tableBase?: number
  readonly onLog?: (tunnel: string, line: string) => void
  /** charon's filelog level (charon-config.ts). */
  readonly logLevel?: number
}

export interface HubResponders {
  /** IKE port the edge must use for a tunnel (4500 with publicPorts). */
  edgeFacingPort(tunnel: string): number
  pid(tunnel: string): number | undefined
  stop(): Promise<void>
}

const NFT_TABLE = 'sdwan_lab_hub'

export class HubResponderError extends Error {
  override readonly name = 'HubResponderError'
  constructor(
    readonly tunnel: string,
    problem: string,
  ) {
    super(`hub responder for ${tunnel}: ${problem}`)
  }
}

export async function startHubResponders(options: HubResponderOptions, run: CommandRunner): Promise<HubResponders> {
  const markBase = options.markBase ?? 0x100
  const tableBase = options.tableBase ?? 3100
  await mkdir(options.runDir, { recursive: true })
  const ns = (...argv: string[]) => runChecked(run, { argv: ['ip', 'netns', 'exec', options.netns, ...argv] })
  const supervisors: CharonSupervisor[] = []
  const clients: ViciClient[] = []
  const stop = async (): Promise<void> => {
    for (const c of clients) c.close()
    await Promise.all(supervisors.map(s => s.stop()))
    for (const family of ['inet', 'ip']) await run({ argv: ['ip', 'netns', 'exec', options.netns, 'nft', 'delete', 'table', family, NFT_TABLE] })
  }
  try {
    const tuns: string[] = []
    for (const [i, t] of options.tunnels.entries()) {
      const ikePort = options.ikePortBase + 2 * i
      const supervisor = new CharonSupervisor(
        {
          name: `hub-${t.name}`,
          ipsec: 'libipsec',
          netns: options.netns,
          confPath: join(options.runDir, `hub-${t.name}.conf`),
          viciSocketPath: join(options.runDir, `hub-${t.name}.vici`),
          ikePort,
          natTPort: ikePort + 1,
          routingTable: tableBase + i,
          routingTablePrio: tableBase + i,
          installRoutes: true,
          routeRuleFwmark: `0x${(markBase + i).toString(16)}/0xffffffff`,
          ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
        },
        { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
        { onLog: line => options.onLog?.(t.name, line) },
      )
      supervisors.push(supervisor)
      await supervisor.start()
      const tun = tunNamesFromFdinfo(await Promise.all((await readdir(`/proc/${supervisor.pid}/fdinfo`)).map(fd => readFile(`/proc/${supervisor.pid}/fdinfo/${fd}`, 'utf8').catch(() => ''))))[0]
      if (!tun) throw new HubResponderError(t.name, `charon (pid ${supervisor.pid}) holds no TUN device; is /dev/net/tun usable?`)
      tuns.push(tun)
      // The reflector binds the inner address; libipsec's route to the edge needs a local source in the hub selectors.
      await ns('ip', 'addr', 'add', t.hubInner, 'dev', tun)
      const host = (p: string) => `${p.split('/')[0]}/32`
      const auth: TunnelAuth = t.x509 ? { kind: 'x509', ...t.x509 } : { kind: 'psk', secret: t.psk }
      const rendered = renderTunnel(
        {
          name: t.name,
          local: { address: t.hubAddress, ikePort, id: t.hubId },
          remote: { address: t.edgeAddress, ikePort: 4500, id: t.edgeId },
          auth,
          localTs: [...t.hubPrefixes, host(t.hubInner)],
          remoteTs: [...t.edgePrefixes, host(t.edgeInner)],
          ikeProposals: t.ikeProposals,
          espProposals: t.espProposals,
        },
        await readTunnelCertificateFiles(auth, path => readFile(path)),
      )
      const client = await ViciClient.connect(unixSocketConnect(supervisor.instance.viciSocketPath))
      clients.push(client)
      await loadTunnel(client, rendered)
    }
    const mark = (i: number) => `0x${(markBase + i).toString(16)}`
    const ruleset = [
      `table inet ${NFT_TABLE} {`,
      '  chain pre {',
      '    type filter hook prerouting priority mangle; policy accept;',
      ...tuns.map((tun, i) => `    iifname "${tun}" ct mark set ${mark(i)}`),
      '    ct mark != 0 meta mark set ct mark',
      '  }',
      '  chain out {',
      '    type route hook output priority mangle; policy accept;',
      '    ct mark != 0 meta mark set ct mark',
      '  }',
      '}',
      ...(options.publicPorts
        ? [
            `table ip ${NFT_TABLE} {`,
            '  chain to_responders {',
            '    type nat hook prerouting priority dstnat; policy accept;',
            ...options.tunnels.map((t, i) => `    ip saddr ${t.edgeAddress} ip daddr ${t.hubAddress} udp dport 4500 dnat to ${t.hubAddress}:${options.ikePortBase + 2 * i}`),
            '  }',
            '}',
          ]
        : []),
    ].join('\n')
    await runChecked(run, { argv: ['ip', 'netns', 'exec', options.netns, 'nft', '-f', '-'], input: ruleset })
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
  const index = (tunnel: string) => options.tunnels.findIndex(t => t.name === tunnel)
  return {
    edgeFacingPort: tunnel => (options.publicPorts ? 4500 : options.ikePortBase + 2 * index(tunnel)),
    pid: tunnel => supervisors[index(tunnel)]?.pid,
    stop,
  }
}
