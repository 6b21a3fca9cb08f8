// Whether the kernel does ESP itself: one ESP SA added over NETLINK_XFRM and removed again at once.
// xfrm_add_sa looks the transform up by protocol (xfrm_get_type, which request_module()s esp4 on a
// modular kernel), so the answer is the kernel's own: EPROTONOSUPPORT when it has no ESP. A module list
// could not tell a built-in or autoloadable esp4 from a missing one. The SA is transport mode between
// loopback addresses with an SPI from the range IANA reserves (RFC 4303 §2.1: 1-255), which no IKE
// daemon allocates and no packet ever matches. Layouts: linux/xfrm.h (x86-64 and arm64: 8-byte aligned).
import { createNetlink, type NetlinkSocket } from 'netlink'
import { errnoName } from '../dataplane/rtnl/errno.js'
import { nlattr } from '../dataplane/rtnl/wire.js'

const NETLINK_XFRM = 6
const XFRM_MSG_NEWSA = 0x10
const XFRM_MSG_DELSA = 0x11
const XFRMA_ALG_AUTH = 1
const XFRMA_ALG_CRYPT = 2
const NLMSG_ERROR = 2
const AF_INET = 2
const IPPROTO_ESP = 50
const XFRM_INF = 0xffffffffffffffffn
/** sizeof(struct xfrm_usersa_info) and sizeof(struct xfrm_usersa_id). */
const USERSA_INFO_SIZE = 224
const USERSA_ID_SIZE = 24

export const ESP_PROBE_SPI = 0xff
const LOOPBACK = Buffer.from([127, 0, 0, 1])

/** struct xfrm_algo: a 64-byte NUL-padded name, the key length in bits, the key. */
function algo(name: string, key: Buffer): Buffer {
  const out = Buffer.alloc(68 + key.length)
  out.write(name, 0, 'latin1')
  out.writeUInt32LE(key.length * 8, 64)
  key.copy(out, 68)
  return out
}

/** XFRM_MSG_NEWSA's body: struct xfrm_usersa_info, then the cipher and the authenticator. Pure. */
export function espProbeSa(): Buffer {
  const info = Buffer.alloc(USERSA_INFO_SIZE)
  // sel (xfrm_selector, 56 bytes) stays zero: AF_UNSPEC, any traffic of the SA's own addresses.
  LOOPBACK.copy(info, 56) // id.daddr
  info.writeUInt32BE(ESP_PROBE_SPI, 72) // id.spi, network order
  info.writeUInt8(IPPROTO_ESP, 76) // id.proto
  LOOPBACK.copy(info, 80) // saddr
  for (let i = 0; i < 4; i++) info.writeBigUInt64LE(XFRM_INF, 96 + 8 * i) // lft byte and packet limits
  info.writeUInt16LE(AF_INET, 212) // family; mode 0 is transport
  return Buffer.concat([info, nlattr(XFRMA_ALG_CRYPT, algo('cbc(aes)', Buffer.alloc(16))), nlattr(XFRMA_ALG_AUTH, algo('hmac(sha256)', Buffer.alloc(32)))])
}

/** XFRM_MSG_DELSA's body: struct xfrm_usersa_id naming the probe SA. Pure. */
export function espProbeSaId(): Buffer {
  const id = Buffer.alloc(USERSA_ID_SIZE)
  LOOPBACK.copy(id, 0)
  id.writeUInt32BE(ESP_PROBE_SPI, 16)
  id.writeUInt16LE(AF_INET, 20)
  id.writeUInt8(IPPROTO_ESP, 22)
  return id
}

async function exchange(socket: NetlinkSocket, type: number, body: Buffer): Promise<number> {
  const [msgs] = await socket.request(type, body, { checkError: false, timeout: 5000 })
  const reply = msgs[0]
  if (!reply || reply.type !== NLMSG_ERROR) throw new Error(`xfrm netlink: no acknowledgement for message type ${type}`)
  return reply.data.readInt32LE(0)
}

/** Why this kernel cannot do ESP, or undefined when it can. */
export async function espMissing(open: () => NetlinkSocket = () => createNetlink(NETLINK_XFRM)): Promise<string | undefined> {
  let socket: NetlinkSocket
  try {
    socket = open()
  } catch (err) {
    return `the kernel has no xfrm netlink (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): no CONFIG_XFRM_USER`
  }
  try {
    const added = errnoName(await exchange(socket, XFRM_MSG_NEWSA, espProbeSa()))
    if (added === 'EPROTONOSUPPORT') return 'the kernel has no ESP transform (adding an ESP SA: EPROTONOSUPPORT)'
    if (added !== 'OK' && added !== 'EEXIST') return `the kernel refused an ESP SA with cbc(aes) and hmac(sha256) (${added})`
    const removed = errnoName(await exchange(socket, XFRM_MSG_DELSA, espProbeSaId()))
    if (removed !== 'OK' && removed !== 'ESRCH') throw new Error(`removing the ESP probe SA (spi ${ESP_PROBE_SPI}) failed: ${removed}`)
    return undefined
  } finally {
    socket.close()
  }
}
