// The ESP probe: its XFRM_MSG_NEWSA/DELSA bodies laid out as linux/xfrm.h says, and what it makes of the
// kernel's answers (a fake socket here; the real kernel in hub-refuses.test.ts and the VM lab).
import t from 'tap'
import type { NetlinkSocket } from 'netlink'
import { attrsOf } from '../../../edge/dataplane/rtnl/codec.js'
import { ESP_PROBE_SPI, espMissing, espProbeSa, espProbeSaId } from '../../../edge/hub/esp-probe.js'

t.test('the SA: xfrm_usersa_info (224 bytes), then cbc(aes) and hmac(sha256)', async t => {
  const body = espProbeSa()
  t.same([...body.subarray(56, 60)], [127, 0, 0, 1], 'id.daddr')
  t.equal(body.readUInt32BE(72), ESP_PROBE_SPI, 'id.spi in network order')
  t.equal(body[76], 50, 'id.proto ESP')
  t.same([...body.subarray(80, 84)], [127, 0, 0, 1], 'saddr')
  t.equal(body.readBigUInt64LE(96 + 24), 0xffffffffffffffffn, 'hard packet limit infinite')
  t.equal(body.readUInt16LE(212), 2, 'family AF_INET')
  t.equal(body[214], 0, 'transport mode')
  const attrs = attrsOf(body.subarray(224))
  t.equal(attrs.get(2)?.subarray(0, 8).toString('latin1'), 'cbc(aes)')
  t.equal(attrs.get(2)?.readUInt32LE(64), 128, 'key length in bits')
  t.equal(attrs.get(1)?.subarray(0, 12).toString('latin1'), 'hmac(sha256)')
  t.equal(attrs.get(1)?.readUInt32LE(64), 256)
  const id = espProbeSaId()
  t.equal(id.length, 24, 'xfrm_usersa_id')
  t.equal(id.readUInt32BE(16), ESP_PROBE_SPI)
  t.same([id.readUInt16LE(20), id[22]], [2, 50])
})

function fakeSocket(answers: number[], seen: number[]): () => NetlinkSocket {
  return () =>
    ({
      request: async (type: number) => {
        seen.push(type)
        const data = Buffer.alloc(4)
        data.writeInt32LE(answers.shift() ?? 0)
        return [[{ type: 2, data }], {}]
      },
      close: () => undefined,
    }) as unknown as NetlinkSocket
}

t.test("the kernel's answers", async t => {
  const seen: number[] = []
  t.equal(await espMissing(fakeSocket([0, 0], seen)), undefined, 'added and removed: ESP works')
  t.same(seen.splice(0), [0x10, 0x11])
  t.equal(await espMissing(fakeSocket([-17, 0], seen)), undefined, 'EEXIST (a crashed probe left it): ESP works, and it is removed')
  t.same(seen.splice(0), [0x10, 0x11])
  t.equal(await espMissing(fakeSocket([-93], seen)), 'the kernel has no ESP transform (adding an ESP SA: EPROTONOSUPPORT)')
  t.same(seen.splice(0), [0x10], 'nothing to remove')
  t.equal(await espMissing(fakeSocket([-38], seen)), 'the kernel refused an ESP SA with cbc(aes) and hmac(sha256) (ENOSYS)')
  await t.rejects(espMissing(fakeSocket([0, -1], seen)), /removing the ESP probe SA \(spi 255\) failed: EPERM/)
  t.match(
    await espMissing(() => {
      throw Object.assign(new Error('socket: protocol not supported'), { code: 'EPROTONOSUPPORT' })
    }),
    /no xfrm netlink \(EPROTONOSUPPORT\): no CONFIG_XFRM_USER/,
  )
})
