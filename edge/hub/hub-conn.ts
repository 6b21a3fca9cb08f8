// One spoke tunnel as the hub's charon terminates it, rendered into VICI load-conn and load-shared
// input. Pure: secrets and certificates are read by the caller and passed in.
//
// One charon on the standard ports (500, 4500) holds every spoke tunnel's conn; charon tells them apart
// by the spoke's IKE identity (remote.id), since spokes come from addresses the hub cannot know
// (DHCP, LTE, NAT). Each conn's CHILD_SA carries the tunnel's if_id both ways, so kernel ESP (xfrm)
// delivers its decrypted packets on, and takes its outgoing packets from, that tunnel's xfrm interface.
import type { PrivateKeyLoad, SharedSecret } from '../dataplane/vici/client.js'
import type { ViciMessageInput } from '../dataplane/vici/message.js'
import type { HubTunnelPlan } from './plan.js'
import { hubIfId } from './ownership.js'
import type { HubPolicy } from './policy.js'

/** What the files a tunnel's auth names hold: the PSK's text, or the CA certificate's bytes. */
export type SpokeCredential = { readonly psk: string } | { readonly caCert: Uint8Array }

/** The hub's own certificate and key, when some spoke authenticates with X.509. */
export interface HubCertificate {
  readonly cert: Uint8Array
  readonly key: Uint8Array
}

export interface RenderedHubConn {
  readonly name: string
  readonly loadConn: ViciMessageInput
  readonly shared: readonly SharedSecret[]
}

const host = (withLength: string): string => {
  const a = withLength.split('/')[0]!
  return `${a}/${a.includes(':') ? 128 : 32}`
}

export function renderHubConn(policy: HubPolicy, plan: HubTunnelPlan, credential: SpokeCredential, hubCert?: HubCertificate): RenderedHubConn {
  const t = plan.tunnel
  const x509 = 'caCert' in credential
  if (x509 && !hubCert) throw new Error(`spoke tunnel ${plan.key}: X.509 auth but the hub's certificate was not read`)
  const ifId = String(hubIfId(t.id))
  const loadConn: ViciMessageInput = {
    version: 2,
    local_addrs: policy.underlay.addresses,
    remote_addrs: ['%any'],
    proposals: t.ikeProposals,
    // A restarted spoke brings a new IKE_SA under the same identity: it replaces the stale one at once.
    unique: 'replace',
    // The spoke pins each tunnel to one uplink (edge tunnel-conn.ts); the hub follows its address changes
    // through NAT-T and DPD, not MOBIKE.
    mobike: false,
    dpd_delay: `${t.dpdDelayS}s`,
    local: x509 ? { auth: 'pubkey', id: policy.ikeId, certs: [hubCert!.cert] } : { auth: 'psk', id: policy.ikeId },
    remote: x509 ? { auth: 'pubkey', id: t.ikeId, cacerts: [credential.caCert] } : { auth: 'psk', id: t.ikeId },
    children: {
      [plan.key]: {
        mode: 'tunnel',
        // The spoke proposes its LAN and inner address against what it routes to the hub; the responder
        // narrows to this: the data centre and the hub's inner addresses, the spoke's LAN and inner ones.
        local_ts: [...policy.dcPrefixes, host(t.inner.local), ...(t.inner.local6 ? [host(t.inner.local6)] : [])],
        remote_ts: [...t.lanPrefixes, host(t.inner.remote), ...(t.inner.remote6 ? [host(t.inner.remote6)] : [])],
        esp_proposals: t.espProposals,
        if_id_in: ifId,
        if_id_out: ifId,
        // The spokes initiate; a CHILD_SA whose peer died is removed, and the xfrm interface then drops.
        start_action: 'none',
        dpd_action: 'clear',
      },
    },
  }
  return {
    name: plan.key,
    loadConn,
    shared: x509 ? [] : [{ id: `psk-${plan.key}`, type: 'IKE', data: credential.psk, owners: [policy.ikeId, t.ikeId] }],
  }
}

/** The hub key to load-key once, when some spoke uses X.509. */
export const hubKeyLoad = (hubCert: HubCertificate): PrivateKeyLoad => ({ type: 'any', data: hubCert.key })
