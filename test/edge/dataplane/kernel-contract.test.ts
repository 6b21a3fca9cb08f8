// The contract suite against the real kernel (rtnetlink + nft) in a throwaway network namespace.
import t from 'tap'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { RtnlKernelPort } from '../../../edge/dataplane/rtnl/port.js'
import { NftCliPort } from '../../../edge/dataplane/nft/port.js'
import { uplinkFacts } from '../../../edge/dataplane/facts.js'
import { describeRule } from '../../../edge/dataplane/ops.js'
import { KernelError } from '../../../edge/dataplane/errors.js'
import { dataplaneContract } from './helpers/contract.js'
import { BB_IPV6, enterTestNetns, ipBatch, run, sh, THREE_UPLINK_LINKS } from './helpers/netns.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

await enterTestNetns(import.meta.url, 'contract')

const policy = policyFromYaml(THREE_UPLINKS_YAML)
const own = ownershipOf(policy.dataplane)

ipBatch([...THREE_UPLINK_LINKS, BB_IPV6])

/** The foreign objects, as `ip` and `nft` see them (independent of our own decoder). */
const foreignView = (): string =>
  [
    sh('ip', 'rule', 'list', 'pref', '9000'),
    sh('ip', 'route', 'show', 'table', '1001', 'proto', 'static'),
    sh('ip', 'route', 'show', 'table', 'main', '10.97.0.0/16'),
    run('nft', ['list', 'table', 'inet', 'other']).stdout,
  ].join('')

dataplaneContract(t, policy, async () => {
  const kernel = new RtnlKernelPort(own)
  const facts = uplinkFacts(policy, await kernel.facts())
  return {
    kernel,
    nft: new NftCliPort(),
    own,
    facts,
    addForeign: async () => {
      ipBatch(['rule add pref 9000 from 10.99.0.0/16 lookup 100', 'route add 10.98.0.0/16 dev up-bb table 1001 proto static', 'route add 10.97.0.0/16 dev up-bb'])
      sh('nft', 'add', 'table', 'inet', 'other')
    },
    foreign: async () => foreignView(),
    deleteRuleBehindOurBack: async r => {
      const fam = r.family === 4 ? '-4' : '-6'
      sh('ip', fam, 'rule', 'del', 'pref', String(r.priority), 'fwmark', `${r.fwmark}/${r.fwmask}`, 'lookup', String(r.table))
    },
    close: async () => {
      kernel.close()
      run('ip', ['rule', 'del', 'pref', '9000'])
      run('ip', ['route', 'del', '10.98.0.0/16', 'table', '1001'])
      run('ip', ['route', 'del', '10.97.0.0/16'])
      run('nft', ['delete', 'table', 'inet', 'other'])
      // Leave the next test a clean slate of ours too.
      const k = new RtnlKernelPort(own)
      const d = await k.dump()
      await k.apply([...d.rules.map(rule => ({ kind: 'del-rule' as const, rule })), ...d.routes.map(route => ({ kind: 'del-route' as const, route })), ...d.vxlanLinks.map(link => ({ kind: 'del-vxlan' as const, link }))])
      k.close()
      run('nft', ['delete', 'table', 'inet', own.nftTable])
    },
  }
})

t.test('kernel errors are typed: errno name, operation, object', async t => {
  const kernel = new RtnlKernelPort(own)
  t.teardown(() => kernel.close())
  const [missingDev] = await kernel.apply([{ kind: 'add-route', route: { family: 4, table: 1001, dst: '10.5.0.0/16', type: 'unicast', device: 'nope0', metric: 100, comment: '' } }])
  t.type(missingDev, KernelError)
  t.equal(missingDev?.errno, 'ENODEV')
  t.equal(missingDev?.operation, 'add-route')
  const [unreachable] = await kernel.apply([{ kind: 'add-route', route: { family: 4, table: 1001, dst: '10.6.0.0/16', type: 'unicast', gateway: '172.31.0.1', device: 'up-bb', metric: 100, comment: '' } }])
  t.equal(unreachable?.errno, 'ENETUNREACH', 'gateway outside every connected network')
  t.match(unreachable?.object, /table 1001 10\.6\.0\.0\/16 via 172\.31\.0\.1/)
  const rule = { family: 4 as const, priority: 10500, fwmark: 0x50000, fwmask: 0xf0000, table: 1005, comment: '' }
  t.same(await kernel.apply([{ kind: 'add-rule', rule }, { kind: 'add-rule', rule }]), [undefined, undefined], 'EEXIST on add is success')
  t.equal(sh('ip', 'rule', 'list', 'pref', '10500').trim().split('\n').length, 1, 'and adds no duplicate')
  t.same(await kernel.apply([{ kind: 'del-rule', rule }, { kind: 'del-rule', rule }]), [undefined, undefined], 'ENOENT on delete is success')
  t.same(
    await kernel.apply([{ kind: 'del-route', route: { family: 6, table: 1009, dst: '::/0', type: 'blackhole', metric: 7, comment: '' } }]),
    [undefined],
    'deleting a missing route is success',
  )
  t.comment(describeRule(rule))
})

t.test('routes through a down uplink are refused with ENETDOWN, every one of them, without losing a reply', async t => {
  const kernel = new RtnlKernelPort(own)
  t.teardown(() => kernel.close())
  sh('ip', 'link', 'set', 'up-lte', 'down')
  t.teardown(() => void run('ip', ['link', 'set', 'up-lte', 'up']))
  // More failures than one window holds: each error reply carries its request back.
  const ops = Array.from({ length: 300 }, (_, i) => ({
    kind: 'add-route' as const,
    route: { family: 4 as const, table: 1002, dst: `10.${60 + Math.floor(i / 256)}.${i % 256}.0/24`, type: 'unicast' as const, device: 'up-lte', metric: 100, comment: '' },
  }))
  const errors = await kernel.apply(ops)
  t.equal(errors.length, 300)
  t.ok(errors.every(e => e?.errno === 'ENETDOWN'), 'all 300 refused, each with its own error')
})
