// The production wiring of the IPsec tunnels layer: real charon-systemd processes, Unix VICI sockets,
// rtnetlink in the daemon's namespace (TUN adoption or xfrm interfaces, by backend), real timers and files. The composition root, the tunnel tests'
// child process and the tunnels benchmark all build it here.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import type { SitePolicy } from '../../config/policy.js'
import { realTimers } from '../vici/retry.js'
import { unixSocketConnect } from '../vici/unix-socket.js'
import { CharonSupervisor } from './charon-supervisor.js'
import { nodeSpawnCharon } from './node-spawn.js'
import type { IpsecBackend } from './ipsec-backend.js'
import { RtnlTunDevicePort } from './rtnl-tun-device.js'
import { LibipsecDevices, XfrmDevices } from './tunnel-devices.js'
import { IpsecTunnelManager } from './tunnel-manager.js'
import type { TunnelPlanOptions } from './tunnel-plan.js'
import { XfrmInterfaces } from './xfrm-interface.js'

export function nodeTunnelManager(
  policy: () => SitePolicy,
  options: TunnelPlanOptions,
  log: (level: 'info' | 'warn', fields: object, msg: string) => void,
): IpsecTunnelManager {
  return new IpsecTunnelManager(options, {
    policy,
    readFile: path => readFile(path),
    mkdir: dir => mkdir(dir, { recursive: true }),
    supervise: (instance, supervisorOptions) =>
      new CharonSupervisor(
        instance,
        { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
        { restartBackoff: { initialMs: 200, maxMs: 10_000 }, stableAfterMs: 30_000, ...supervisorOptions },
      ),
    connectVici: unixSocketConnect,
    devices: options.backend === 'kernel' ? new XfrmDevices(new XfrmInterfaces()) : new LibipsecDevices(new RtnlTunDevicePort()),
    timers: realTimers,
    // The first retry comes quickly: right after the TUN is adopted, charon may not yet have seen the route
    // anchor's RTM_NEWLINK, and libipsec's route install (hence the CHILD_SA) fails once.
    initiateBackoff: { initialMs: 50, maxMs: 10_000 },
    log,
  })
}

/**
 * if_ids of the kernel backend's xfrm interfaces: a block of our own, above what hand-made setups pick (small
 * numbers, as in `ip link add … if_id 42`), so a site's own xfrm interfaces do not collide with ours.
 */
export const XFRM_IF_ID_BASE = 0x5d000000

/**
 * Plan options from the policy's owned ranges: libipsec's anchor tables at the top of our table range
 * (path tables sit at its bottom, layout.ts), whose routes the reconciler ignores (not our route
 * protocol); the anchor rules just below our rule priority range, which the reconciler owns whole.
 * The backend defaults to libipsec, which every kernel with TUN can run.
 */
export function tunnelPlanOptions(policy: SitePolicy, runDir: string, overrides: Partial<TunnelPlanOptions> = {}): TunnelPlanOptions {
  const { tables, rulePriorities } = policy.dataplane
  return {
    runDir,
    backend: 'libipsec' satisfies IpsecBackend,
    xfrmIfId: slot => XFRM_IF_ID_BASE + 1 + slot,
    ikePortBase: 14_500,
    // libipsec always runs ESP in UDP, so IKE starts on 4500 (RFC 7296 §2.23, with the non-ESP marker):
    // no float from 500, and one port carries IKE and ESP for the tunnel's life. socket-default decides
    // marker or not by whether the peer port is 500, so both ends agree whatever ports they listen on.
    hubIkePort: () => 4500,
    anchorTable: slot => tables.to - slot,
    anchorRulePriority: slot => rulePriorities.from - 1 - slot,
    retransmit: { tries: 3, timeoutS: 1, base: 1.4 },
    ...overrides,
  }
}
