// Renders one IPsec tunnel description into the VICI messages that set it up: the load-conn section and
// the credentials (load-shared for PSK; load-key plus certificate data for X.509). Pure: certificate and key
// files are read by the caller (readTunnelCertificateFiles) and passed in as bytes.
import type { PrivateKeyLoad, SharedSecret, ViciClient } from '../vici/client.js'
import type { ViciMessageInput } from '../vici/message.js'

export interface TunnelEndpoint {
  /** Underlay address of this end. */
  readonly address: string
  /** IKE port of this end's charon (each uplink's charon has its own). */
  readonly ikePort: number
  /** IKE identity (FQDN, email, IP or DN). */
  readonly id: string
}

export type TunnelAuth =
  | { readonly kind: 'psk'; readonly secret: string }
  | { readonly kind: 'x509'; readonly certPath: string; readonly keyPath: string; readonly caCertPath: string }

export interface IpsecTunnel {
  /** Connection name in charon; also the CHILD_SA name. */
  readonly name: string
  readonly local: TunnelEndpoint
  readonly remote: TunnelEndpoint
  readonly auth: TunnelAuth
  /** Inner traffic selectors (CIDRs) of this side and of the far side. */
  readonly localTs: readonly string[]
  readonly remoteTs: readonly string[]
  /** strongSwan proposal strings, e.g. "aes256-sha256-modp2048", "aes256-sha256". */
  readonly ikeProposals: readonly string[]
  readonly espProposals: readonly string[]
  /** Dead peer detection interval; 0 or undefined leaves DPD off. */
  readonly dpdDelaySec?: number
  /** ESP mode: `tunnel` (the default) for class traffic, `transport` for GRE between the endpoints (gre-over-ipsec). */
  readonly mode?: 'tunnel' | 'transport'
  /** Kernel ESP, route-based: the xfrm interface's if_id, set on both directions' SAs and policies. */
  readonly ifId?: number
  /**
   * Kernel ESP: `trap` keeps a policy installed while no SA is, so matching packets are held for an acquire
   * instead of leaving in the clear (what transport-mode GRE needs; an xfrm interface drops them by itself).
   * libipsec never raises acquires (DESIGN.md), so there `none` (the default), and the manager initiates.
   */
  readonly startAction?: 'none' | 'trap'
}

/** The bytes of the X.509 files named in a tunnel's auth. */
export interface TunnelCertificateFiles {
  readonly cert: Uint8Array
  readonly key: Uint8Array
  readonly caCert: Uint8Array
}

export interface RenderedTunnel {
  readonly connName: string
  readonly childName: string
  /** The section to pass as `ViciClient.loadConn(connName, loadConn)`. */
  readonly loadConn: ViciMessageInput
  readonly shared: readonly SharedSecret[]
  /** Private keys to load-key; the certificates themselves travel inside the load-conn auth sections. */
  readonly keys: readonly PrivateKeyLoad[]
}

/** Gives charon a rendered tunnel over VICI: its private keys and shared secrets first, then the conn. */
export async function loadTunnel(client: Pick<ViciClient, 'loadKey' | 'loadShared' | 'loadConn'>, rendered: RenderedTunnel): Promise<void> {
  for (const key of rendered.keys) await client.loadKey(key)
  for (const secret of rendered.shared) await client.loadShared(secret)
  await client.loadConn(rendered.connName, rendered.loadConn)
}

export class TunnelRenderError extends Error {
  override readonly name = 'TunnelRenderError'
  constructor(
    readonly tunnel: string,
    readonly field: string,
    problem: string,
  ) {
    super(`tunnel "${tunnel}": ${field} ${problem}`)
  }
}

/** Reads the files an X.509 tunnel names; undefined for PSK tunnels. */
export async function readTunnelCertificateFiles(
  auth: TunnelAuth,
  readFile: (path: string) => Promise<Uint8Array>,
): Promise<TunnelCertificateFiles | undefined> {
  if (auth.kind !== 'x509') return undefined
  const [cert, key, caCert] = await Promise.all([readFile(auth.certPath), readFile(auth.keyPath), readFile(auth.caCertPath)])
  return { cert, key, caCert }
}

export function renderTunnel(tunnel: IpsecTunnel, files?: TunnelCertificateFiles): RenderedTunnel {
  const need = (field: string, values: readonly string[]): void => {
    if (values.length === 0) throw new TunnelRenderError(tunnel.name, field, 'is empty; give at least one entry')
  }
  need('localTs', tunnel.localTs)
  need('remoteTs', tunnel.remoteTs)
  need('ikeProposals', tunnel.ikeProposals)
  need('espProposals', tunnel.espProposals)
  if (tunnel.auth.kind === 'x509' && !files) {
    throw new TunnelRenderError(tunnel.name, 'auth', 'is x509 but no certificate files were read')
  }

  const x509 = tunnel.auth.kind === 'x509' ? files : undefined
  const loadConn: ViciMessageInput = {
    version: 2,
    local_addrs: [tunnel.local.address],
    remote_addrs: [tunnel.remote.address],
    local_port: tunnel.local.ikePort,
    remote_port: tunnel.remote.ikePort,
    proposals: tunnel.ikeProposals,
    // libipsec can only do ESP in UDP; say so instead of relying on charon faking a NAT. Kernel ESP could send
    // plain ESP, but one wire format lets either backend talk to a hub of either backend.
    encap: true,
    // One tunnel is pinned to one uplink: MOBIKE would move the SA to another address on its own.
    mobike: false,
    dpd_delay: tunnel.dpdDelaySec ? `${tunnel.dpdDelaySec}s` : undefined,
    local: x509 ? { auth: 'pubkey', id: tunnel.local.id, certs: [x509.cert] } : { auth: 'psk', id: tunnel.local.id },
    remote: x509 ? { auth: 'pubkey', id: tunnel.remote.id, cacerts: [x509.caCert] } : { auth: 'psk', id: tunnel.remote.id },
    children: {
      [tunnel.name]: {
        mode: tunnel.mode ?? 'tunnel',
        local_ts: tunnel.localTs,
        remote_ts: tunnel.remoteTs,
        esp_proposals: tunnel.espProposals,
        start_action: tunnel.startAction ?? 'none',
        if_id_in: tunnel.ifId?.toString(),
        if_id_out: tunnel.ifId?.toString(),
        dpd_action: tunnel.dpdDelaySec ? 'clear' : undefined,
      },
    },
  }
  return {
    connName: tunnel.name,
    childName: tunnel.name,
    loadConn,
    shared:
      tunnel.auth.kind === 'psk'
        ? [{ id: `psk-${tunnel.name}`, type: 'IKE', data: tunnel.auth.secret, owners: [tunnel.local.id, tunnel.remote.id] }]
        : [],
    keys: x509 ? [{ type: 'any', data: x509.key }] : [],
  }
}
