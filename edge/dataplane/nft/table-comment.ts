// Reads our nft table's comment straight from nf_tables over NETLINK_NETFILTER (NFT_MSG_GETTABLE),
// instead of starting `nft list`: the digest check sits on every apply's critical path, and a
// process start costs tens of milliseconds. nft keeps a table comment in NFTA_TABLE_USERDATA as
// libnftnl "udata" TLVs (u8 type, u8 length, value); NFTNL_UDATA_TABLE_COMMENT is type 0, a
// NUL-terminated string.
import { createNetlink } from 'netlink'
import { attrsOf } from '../rtnl/codec.js'
import { errnoName } from '../rtnl/errno.js'
import { NftError } from '../errors.js'
import { nlattr } from '../rtnl/wire.js'

const NETLINK_NETFILTER = 12
const NFNL_SUBSYS_NFTABLES = 10
const NFT_MSG_GETTABLE = 1
const NLMSG_ERROR = 2
const NFPROTO_INET = 1
const NFTA_TABLE_NAME = 1
const NFTA_TABLE_USERDATA = 6
const NFTNL_UDATA_TABLE_COMMENT = 0

/** The comment among libnftnl udata TLVs; '' when there is none. */
export function commentOfUserdata(udata: Buffer | undefined): string {
  if (!udata) return ''
  for (let off = 0; off + 2 <= udata.length; ) {
    const type = udata[off]!
    const len = udata[off + 1]!
    if (type === NFTNL_UDATA_TABLE_COMMENT) return udata.subarray(off + 2, off + 2 + len).toString('utf8').replace(/\0+$/, '')
    off += 2 + len
  }
  return ''
}

/** The comment of table `inet NAME`: null when the table does not exist, '' when it has no comment. */
export async function readTableComment(name: string): Promise<string | null> {
  const socket = createNetlink(NETLINK_NETFILTER)
  try {
    // struct nfgenmsg: family, version (NFNETLINK_V0), res_id (big-endian, 0).
    const nfgen = Buffer.from([NFPROTO_INET, 0, 0, 0])
    const [msgs] = await socket.request((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, [nfgen, nlattr(NFTA_TABLE_NAME, Buffer.from(name + '\0'))], { checkError: false })
    const m = msgs[0]
    if (!m) throw new NftError('read table comment', 'no reply from nf_tables', null)
    if (m.type === NLMSG_ERROR) {
      const errno = m.data.readInt32LE(0)
      if (errno === -2) return null
      throw new NftError('read table comment', errnoName(errno), null)
    }
    return commentOfUserdata(attrsOf(m.data.subarray(4)).get(NFTA_TABLE_USERDATA))
  } finally {
    socket.close()
  }
}
