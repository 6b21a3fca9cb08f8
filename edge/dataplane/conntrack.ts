// Evicting one (class, path) pair's flows from conntrack, and nothing else: a ctnetlink flush
// (IPCTNL_MSG_CT_DELETE without a tuple) filtered by CTA_MARK/CTA_MARK_MASK deletes only the
// entries whose ct mark has exactly that class|path under our mask (ctnetlink_flush_conntrack).
//
// Why evict at all, when changing the rules already re-routes the flow: a flow's NAT binding is
// fixed in its conntrack entry. The kernel copes for masqueraded flows by itself (nf_nat_inet_fn
// kills a masqueraded entry whose output interface changed, dropping that packet:
// nf_nat_oif_changed), but a flow that left un-NATed (MPLS) would otherwise keep leaving un-NATed on
// a NAT uplink, with its private source. With the entry gone, the next packet is a new flow:
// classified, routed to the class's current path, NATed there.
import { createNetlink } from 'netlink'
import type { ConntrackPort } from './ports.js'
import { errnoName } from './rtnl/errno.js'

const NETLINK_NETFILTER = 12
const NFNL_SUBSYS_CTNETLINK = 1
const IPCTNL_MSG_CT_DELETE = 2
const NLMSG_ERROR = 2
const CTA_MARK = 8
const CTA_MARK_MASK = 21
const AF_INET = 2
const AF_INET6 = 10

function be32Attr(type: number, value: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeUInt16LE(8, 0)
  b.writeUInt16LE(type, 2)
  b.writeUInt32BE(value >>> 0, 4)
  return b
}

export class ConntrackEvictionError extends Error {
  override readonly name = 'ConntrackEvictionError'
  constructor(
    readonly errno: string,
    readonly mark: number,
  ) {
    super(`evict conntrack mark 0x${mark.toString(16)}: ${errno}`)
  }
}

export class CtnetlinkConntrackPort implements ConntrackPort {
  async evict(mark: number, mask: number): Promise<void> {
    const socket = createNetlink(NETLINK_NETFILTER)
    try {
      for (const family of [AF_INET, AF_INET6]) {
        // struct nfgenmsg: family, version 0, res_id 0.
        const nfgen = Buffer.from([family, 0, 0, 0])
        const [msgs] = await socket.request((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, [nfgen, be32Attr(CTA_MARK, mark), be32Attr(CTA_MARK_MASK, mask)], {
          checkError: false,
        })
        const m = msgs[0]
        const errno = m?.type === NLMSG_ERROR ? m.data.readInt32LE(0) : 0
        // ENOENT: nothing carried that mark.
        if (errno !== 0 && errno !== -2) throw new ConntrackEvictionError(errnoName(errno), mark)
      }
    } finally {
      socket.close()
    }
  }
}
