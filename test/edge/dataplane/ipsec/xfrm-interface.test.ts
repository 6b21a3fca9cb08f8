// xfrm interfaces over rtnetlink: the request encoder and the link-info decoder (pure), the backend choice,
// and the real kernel in a throwaway namespace. This host's kernel has no xfrm interfaces, so there the
// probe must say so by errno; where the kernel has them (the VM lab runs the same child in
// images/lab/vm/scenarios/ipsec-kernel.ts) one interface's whole life is checked.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { chooseIpsecBackend, parseBackendChoice, xfrmInterfaceMissing } from '../../../../edge/dataplane/ipsec/ipsec-backend.js'
import { decodeXfrmLinkInfo, XfrmInterfaceError, xfrmCreateRequest, type XfrmInterfacePort } from '../../../../edge/dataplane/ipsec/xfrm-interface.js'
import { attrsOf } from '../../../../edge/dataplane/rtnl/codec.js'
import { hostLabSkip } from '../../../images/lab/helpers/lab-capabilities.js'
import { checkXfrmLifecycle, type XfrmChildResult } from '../../../../images/lab/vm/scenarios/xfrm-lifecycle.js'

const run = promisify(execFile)

t.test('the create request carries name, MTU, up, kind xfrm, if_id and link; the decoder reads them back', async t => {
  const req = xfrmCreateRequest({ name: 'sw-dc1-bb', ifId: 0x5d000001, mtu: 1438 }, 3)
  t.equal(req.type, 16, 'RTM_NEWLINK')
  t.equal(req.flags, 0x400 | 0x200, 'NLM_F_CREATE | NLM_F_EXCL')
  const body = req.payload as Buffer
  t.equal(body.readUInt32LE(8) & 1, 1, 'IFF_UP in flags')
  t.equal(body.readUInt32LE(12) & 1, 1, 'IFF_UP in change')
  const attrs = attrsOf(body.subarray(16))
  t.equal(attrs.get(3)?.toString(), 'sw-dc1-bb\0')
  t.equal(attrs.get(4)?.readUInt32LE(0), 1438)
  t.same(decodeXfrmLinkInfo(attrs.get(18)), { ifId: 0x5d000001, link: 3 })
  const noLink = attrsOf((xfrmCreateRequest({ name: 'x', ifId: 1, mtu: 1400 }).payload as Buffer).subarray(16))
  t.same(decodeXfrmLinkInfo(noLink.get(18)), { ifId: 1, link: 0 }, 'no underlay: link 0')
})

t.test('the lifecycle judge finds a step that went wrong', async t => {
  const sw = { name: 'sw-xt', index: 5, ifId: 7, link: 0, mtu: 1438, up: true, addresses: ['10.77.0.1/30'] }
  const good = {
    steps: { created: [sw], again: [sw], changed: [{ ...sw, mtu: 1400, addresses: ['10.77.1.1/32', '10.77.0.1/30'] }], replaced: [{ ...sw, index: 6, ifId: 8, link: 1 }], removed: [] },
    clash: 'xfrm interface lo: create failed (EEXIST: a link of another kind has the name)',
  }
  t.same(checkXfrmLifecycle(good), [])
  const linkLocal = { ...sw, addresses: ['10.77.0.1/30', 'fe80::7d93:7046:6e0:ef45/64'] }
  t.same(checkXfrmLifecycle({ ...good, steps: { ...good.steps, created: [linkLocal], again: [linkLocal] } }), [], "the kernel's own IPv6 link-local address is not ours to judge")
  t.same(checkXfrmLifecycle({ ...good, steps: { ...good.steps, replaced: [{ ...sw, ifId: 8, link: 1 }] } }), ['replaced: the interface kept its index, so it was not recreated'])
  t.same(checkXfrmLifecycle({ ...good, steps: { ...good.steps, again: [sw, { ...sw, name: 'sw-xt2' }] } }), [`again: expected just sw-xt, got ${JSON.stringify([sw, { ...sw, name: 'sw-xt2' }])}`])
  t.same(checkXfrmLifecycle({ ...good, steps: { ...good.steps, changed: [sw] } }), ['changed: mtu is 1438, expected 1400', 'changed: addresses is ["10.77.0.1/30"], expected ["10.77.0.1/30","10.77.1.1/32"]'])
})

t.test('the decoder ignores links of other kinds and links without link info', async t => {
  const gre = Buffer.concat([Buffer.from([8, 0, 1, 0]), Buffer.from('gre\0')])
  t.equal(decodeXfrmLinkInfo(gre), undefined)
  t.equal(decodeXfrmLinkInfo(undefined), undefined)
})

t.test('if_id 0 and values past u32 are refused before the kernel sees them', async t => {
  for (const ifId of [0, -1, 1.5, 2 ** 32]) {
    t.throws(() => xfrmCreateRequest({ name: 'sw-a', ifId, mtu: 1400 }), { name: 'RangeError', message: /sw-a: if_id must be a whole number in 1\.\.4294967295/ })
  }
})

t.test('backend choice: a flag wins without asking the kernel; auto asks once and says why', async t => {
  let asked = 0
  const missing = async (): Promise<string | undefined> => (asked++, 'the kernel cannot create an xfrm interface (EOPNOTSUPP)')
  t.same(await chooseIpsecBackend('kernel', missing), { backend: 'kernel', reason: '--ipsec-backend kernel' })
  t.same(await chooseIpsecBackend('libipsec', missing), { backend: 'libipsec', reason: '--ipsec-backend libipsec' })
  t.equal(asked, 0)
  t.same(await chooseIpsecBackend('auto', missing), { backend: 'libipsec', reason: 'auto: the kernel cannot create an xfrm interface (EOPNOTSUPP)' })
  t.same(await chooseIpsecBackend('auto', async () => undefined), { backend: 'kernel', reason: 'auto: the kernel has xfrm interfaces' })
  t.equal(parseBackendChoice('auto'), 'auto')
  t.throws(() => parseBackendChoice('kernel-esp'), { message: "the IPsec backend must be auto, kernel or libipsec (got 'kernel-esp')" })
})

t.test('the probe creates and removes its interface, and turns only xfrm-interface errors into a reason', async t => {
  const calls: string[] = []
  const port = (fail?: Error): XfrmInterfacePort => ({
    ensure: async spec => {
      calls.push(`ensure ${spec.name} ${spec.ifId}`)
      if (fail) throw fail
    },
    remove: async name => void calls.push(`remove ${name}`),
    list: async () => [],
    close: () => undefined,
  })
  t.equal(await xfrmInterfaceMissing(port()), undefined)
  t.same(calls.splice(0), ['ensure sw-.xfrm-probe 1568538624', 'remove sw-.xfrm-probe'])
  t.equal(await xfrmInterfaceMissing(port(new XfrmInterfaceError('sw-.xfrm-probe', 'create', 'EOPNOTSUPP'))), 'the kernel cannot create an xfrm interface (EOPNOTSUPP)')
  t.same(calls.splice(0), ['ensure sw-.xfrm-probe 1568538624', 'remove sw-.xfrm-probe'], 'removed even after a failure')
  await t.rejects(xfrmInterfaceMissing(port(new Error('socket closed'))), { message: 'socket closed' })
})

t.test('real kernel, in a throwaway namespace', { skip: hostLabSkip() }, async t => {
  const ns = `swxf${process.pid}`
  await run('ip', ['netns', 'add', ns])
  t.teardown(() => run('ip', ['netns', 'del', ns]).then(() => undefined))
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', new URL('../../../../images/lab/vm/scenarios/xfrm-interface-child.ts', import.meta.url).pathname])
  const result = JSON.parse(stdout) as XfrmChildResult
  const { release } = await run('uname', ['-r']).then(r => ({ release: r.stdout.trim() }))
  if ('missing' in result) {
    t.match(result.missing, /^the kernel cannot create an xfrm interface \((EOPNOTSUPP|ENOTSUP)\)$/, `kernel ${release}: no xfrm interfaces, said by errno`)
    const { stdout: links } = await run('ip', ['-n', ns, '-o', 'link'])
    t.notMatch(links, /xfrm-probe/, 'the probe left nothing behind')
  } else {
    t.same(checkXfrmLifecycle(result), [], `kernel ${release}: the lifecycle holds`)
  }
})
