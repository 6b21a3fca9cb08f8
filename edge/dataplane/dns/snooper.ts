// Fills the classes' domain sets (dom4_<class>, dom6_<class>) from DNS answers toward the LAN. Our
// nft table copies those answers to NFLOG group DNS_LOG_GROUP (nft-ruleset.ts); this listens on
// nfnetlink_log, parses the answers, and adds each address to the set of the class whose `domains`
// match the name asked (or any alias in the chain), with the record's TTL as the element timeout.
//
// The element lands a few milliseconds after the client got its answer, so a client that connects
// at once may have its first flow classified without the domain (and kept there by conntrack).
import { createNetlink, type NetlinkSocket } from 'netlink'
import type { SitePolicy } from '../../config/policy.js'
import { attrsOf } from '../rtnl/codec.js'
import { DNS_LOG_GROUP, domainSet } from '../nft-ruleset.js'
import type { DataplaneLog } from '../reconciler.js'
import { dnsPayload, parseDnsAnswer } from './answers.js'
import { classForNames } from './domains.js'
import { nlattr } from '../rtnl/wire.js'

const NETLINK_NETFILTER = 12
const NFNL_SUBSYS_ULOG = 4
const NFULNL_MSG_PACKET = 0
const NFULNL_MSG_CONFIG = 1
const NFULA_CFG_CMD = 1
const NFULA_CFG_MODE = 2
const NFULA_CFG_QTHRESH = 5
const NFULNL_CFG_CMD_BIND = 1
const NFULNL_COPY_PACKET = 2
const NFULA_PAYLOAD = 9

/** Answers are short-lived; a floor keeps a set element through a client's connection set-up. */
export const MIN_ELEMENT_TIMEOUT_S = 60

/** `nft -f` lines adding one answer's addresses to their class's set, or [] when no class wants them. */
export function elementLines(policy: SitePolicy, packet: Buffer): string[] {
  const payload = dnsPayload(packet)
  const answer = payload && parseDnsAnswer(payload)
  if (!answer || !answer.addresses.length) return []
  const cls = classForNames(policy, answer.names)
  if (!cls) return []
  const table = policy.dataplane.nftTable
  return answer.addresses.map(
    a => `add element inet ${table} ${domainSet(cls, a.family)} { ${a.address} timeout ${Math.max(a.ttl, MIN_ELEMENT_TIMEOUT_S)}s }`,
  )
}

export interface SnooperDeps {
  policy: SitePolicy
  /** Runs `nft -f -` with these lines (one transaction). */
  addElements(lines: string[]): Promise<void>
  log: DataplaneLog
}

export class DnsSnooper {
  private socket: NetlinkSocket | undefined

  constructor(private readonly deps: SnooperDeps) {}

  async start(): Promise<void> {
    const socket = createNetlink(NETLINK_NETFILTER, { ref: true } as Parameters<typeof createNetlink>[1])
    this.socket = socket
    // struct nfgenmsg: family AF_UNSPEC, version 0, res_id = the group (big-endian).
    const nfgen = Buffer.from([0, 0, DNS_LOG_GROUP >> 8, DNS_LOG_GROUP & 0xff])
    const type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG
    await socket.request(type, [nfgen, nlattr(NFULA_CFG_CMD, Buffer.from([NFULNL_CFG_CMD_BIND]))])
    // struct nfulnl_msg_config_mode: __be32 copy_range, u8 copy_mode, u8 pad.
    const mode = Buffer.alloc(6)
    mode.writeUInt32BE(0xffff, 0)
    mode[4] = NFULNL_COPY_PACKET
    await socket.request(type, [nfgen, nlattr(NFULA_CFG_MODE, mode)])
    // Deliver each packet at once instead of batching (the kernel's default threshold is 100).
    const one = Buffer.alloc(4)
    one.writeUInt32BE(1)
    await socket.request(type, [nfgen, nlattr(NFULA_CFG_QTHRESH, one)])
    socket.on('message', msgs => {
      for (const m of msgs) {
        if (m.type !== ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) continue
        const payload = attrsOf(m.data.subarray(4)).get(NFULA_PAYLOAD)
        if (payload) this.handle(payload)
      }
    })
  }

  private handle(packet: Buffer): void {
    const lines = elementLines(this.deps.policy, packet)
    if (!lines.length) return
    this.deps.addElements(lines).then(
      () => this.deps.log('dataplane.dns-learned', { elements: lines.length }),
      (error: Error) => this.deps.log('dataplane.dns-learn-failed', { error: error.message }),
    )
  }

  stop(): void {
    this.socket?.close()
    this.socket = undefined
  }
}
