// The hub policy: every broken hub policy under test/fixtures/policies/broken-hub gives exactly the
// located problems its `# expect:` lines name; the example is valid and matches the retail store's side;
// the schema is picked by device.role.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parsePolicy } from '../../../edge/config/load.js'
import { hubPolicySchema, parseAnyPolicy, parseHubPolicy } from '../../../edge/hub/load.js'
import { spokeTunnels } from '../../../edge/hub/policy.js'
import { contains, parsePrefix } from '../../../edge/net/prefix.js'

const root = join(import.meta.dirname, '../../..')
const dir = join(root, 'test/fixtures/policies/broken-hub')
const files = readdirSync(dir).filter(f => f.endsWith('.yaml')).sort()
/** Files under /missing/ are the ones that do not exist, for the fixtures that test it. */
const readable = (path: string): boolean => !path.includes('/missing/')

t.ok(files.length >= 9, `at least 9 broken hub policies (found ${files.length})`)

for (const file of files) {
  t.test(file, async t => {
    const text = readFileSync(join(dir, file), 'utf8')
    const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map(m => m[1])
    t.ok(expected.length > 0, 'the fixture names the problems it expects')
    const result = parseAnyPolicy(file, text, readable)
    t.notOk(result.ok, 'the policy is rejected')
    const got = result.ok ? [] : result.errors.map(e => `${e.line}:${e.column} ${e.pointer}: ${e.message}`)
    t.same(got, expected)
    if (!result.ok) t.ok(result.errors.every(e => e.file === file), 'every problem names the file')
  })
}

t.test('the example hub policy is valid, with defaults filled in', async t => {
  const text = readFileSync(join(root, 'policies/examples/hub-dc1.yaml'), 'utf8')
  const r = parseHubPolicy('hub-dc1.yaml', text, () => true)
  if (!r.ok) throw new Error(r.errors.map(e => e.message).join('\n'))
  t.equal(r.policy.reflector.port, 862)
  const tunnels = spokeTunnels(r.policy)
  t.same(tunnels.map(x => x.key), ['edge-0042-a.dc1-bb', 'edge-0042-a.dc1-lte'])
  t.same(tunnels.map(x => x.tunnel.ikeProposals), [['aes256gcm16-prfsha384-ecp384'], ['aes256gcm16-prfsha384-ecp384']])
  t.same(tunnels.map(x => x.tunnel.mtu), [1400, 1400])
})

t.test("the example hub is the retail store's dc1: same address, IKE id, inner pairs and LAN", async t => {
  const hubText = readFileSync(join(root, 'policies/examples/hub-dc1.yaml'), 'utf8')
  const hub = parseHubPolicy('hub-dc1.yaml', hubText, () => true)
  const site = parsePolicy('retail-store.yaml', readFileSync(join(root, 'policies/examples/retail-store.yaml'), 'utf8'))
  if (!hub.ok || !site.ok) throw new Error('an example is invalid')
  const dc1 = site.policy.hubs.find(h => h.name === 'dc1')!
  t.equal(dc1.ikeId, hub.policy.ikeId)
  t.same(dc1.addresses, hub.policy.underlay.addresses)
  const spoke = hub.policy.spokes.find(s => s.device === site.policy.device.id)!
  t.ok(spoke, "the store's device is a spoke")
  const lan = site.policy.lan.filter(s => !s.isolated).flatMap(s => s.prefixes).filter(p => !p.includes(':'))
  for (const edgeTunnel of site.policy.tunnels.filter(x => x.type === 'ipsec' && x.hub === 'dc1')) {
    const ht = spoke.tunnels.find(x => x.name === edgeTunnel.name)
    if (!ht) {
      t.fail(`hub lacks the store's tunnel ${edgeTunnel.name}`)
      continue
    }
    t.equal(ht.inner.local.split('/')[0], edgeTunnel.inner.remote, `${ht.name}: hub inner address`)
    t.equal(ht.inner.remote, edgeTunnel.inner.local.split('/')[0], `${ht.name}: spoke inner address`)
    t.same(ht.lanPrefixes, lan, `${ht.name}: the store's LAN`)
    t.equal(ht.ikeId, edgeTunnel.ipsec?.localId, `${ht.name}: the store's IKE identity on this tunnel`)
    const reachable = edgeTunnel.remotePrefixes.map(p => parsePrefix(p)!)
    t.ok(hub.policy.dcPrefixes.every(d => reachable.some(r => contains(r, parsePrefix(d)!))), `${ht.name}: the store routes every DC prefix into the tunnel`)
  }
})

t.test('device.role picks the schema', async t => {
  const site = parseAnyPolicy('site.yaml', readFileSync(join(root, 'policies/examples/retail-store.yaml'), 'utf8'))
  t.equal(site.ok && site.role, 'edge')
  const hub = parseAnyPolicy('hub.yaml', readFileSync(join(root, 'policies/examples/hub-dc1.yaml'), 'utf8'), () => true)
  t.equal(hub.ok && hub.role, 'hub')
  const edgeFieldsOnHub = parseAnyPolicy('x.yaml', 'version: 1\nserial: 1\ndevice: { id: h, role: hub }\nuplinks: []\n', () => true)
  t.notOk(edgeFieldsOnHub.ok)
  if (!edgeFieldsOnHub.ok) t.match(edgeFieldsOnHub.errors.map(e => e.message).join('\n'), /unknown property 'uplinks'/, 'a hub file is judged by the hub schema')
})

t.test('every hub schema field has a description', async t => {
  const missing: string[] = []
  const walk = (node: unknown, at: string, inProperties: boolean): void => {
    if (node === null || typeof node !== 'object') return
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`, false))
    const o = node as Record<string, unknown>
    if (inProperties) {
      for (const [k, v] of Object.entries(o)) {
        const field = v as Record<string, unknown>
        if (typeof field.description !== 'string' && typeof field.$ref !== 'string') missing.push(`${at}/${k}`)
        walk(v, `${at}/${k}`, false)
      }
      return
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`, k === 'properties')
  }
  walk(hubPolicySchema, '', false)
  t.same(missing, [])
})
