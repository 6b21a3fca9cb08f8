// ViciClient: each typed command sends the message the strongSwan vici README documents and turns
// `success = no` into ViciCommandError.
import t from 'tap'
import { ViciClient } from '../../../../edge/dataplane/vici/client.js'
import type { ViciMessage } from '../../../../edge/dataplane/vici/message.js'
import { ViciSession } from '../../../../edge/dataplane/vici/session.js'
import { FakeCharon, type CommandHandler } from './helpers/fake-charon.js'

const ok = (): { response: { success: string } } => ({ response: { success: 'yes' } })

function clientWith(commands: Record<string, CommandHandler>): { charon: FakeCharon; client: ViciClient } {
  const charon = new FakeCharon(commands)
  return { charon, client: new ViciClient(new ViciSession(charon.socket)) }
}

function sent(charon: FakeCharon, command: string): ViciMessage[] {
  return charon.received.flatMap(p => (p.type === 'cmd-request' && p.name === command ? [p.message] : []))
}

t.test('version', async t => {
  const { client } = clientWith({
    version: () => ({ response: { daemon: 'charon-systemd', version: '5.9.8', sysname: 'Linux', release: '6.1', machine: 'x86_64' } }),
  })
  t.same(await client.version(), { daemon: 'charon-systemd', version: '5.9.8', sysname: 'Linux', release: '6.1', machine: 'x86_64' })
})

t.test('version reply without a field is a protocol error', async t => {
  const { client } = clientWith({ version: () => ({ response: { daemon: 'x' } }) })
  await t.rejects(client.version(), { name: 'ViciProtocolError', message: /"version"/ })
})

const commands: Array<{ name: string; command: string; call: (c: ViciClient) => Promise<unknown>; message: ViciMessage }> = [
  { name: 'load-conn wraps the section in its name', command: 'load-conn', call: c => c.loadConn('up1', { version: 2, local_addrs: ['192.0.2.1'] }), message: { up1: { version: '2', local_addrs: ['192.0.2.1'] } } },
  { name: 'unload-conn', command: 'unload-conn', call: c => c.unloadConn('up1'), message: { name: 'up1' } },
  {
    name: 'load-shared with id and owners',
    command: 'load-shared',
    call: c => c.loadShared({ id: 'psk-up1', type: 'IKE', data: 's3cret', owners: ['edge', 'hub'] }),
    message: { id: 'psk-up1', type: 'IKE', data: 's3cret', owners: ['edge', 'hub'] },
  },
  { name: 'unload-shared', command: 'unload-shared', call: c => c.unloadShared('psk-up1'), message: { id: 'psk-up1' } },
  { name: 'load-cert defaults flag to NONE', command: 'load-cert', call: c => c.loadCert({ type: 'X509', data: 'PEM' }), message: { type: 'X509', flag: 'NONE', data: 'PEM' } },
  { name: 'load-key', command: 'load-key', call: c => c.loadKey({ type: 'any', data: 'PEM' }), message: { type: 'any', data: 'PEM' } },
  { name: 'initiate', command: 'initiate', call: c => c.initiate({ child: 'net', ike: 'up1', timeoutMs: 5000, initLimits: false }), message: { child: 'net', ike: 'up1', timeout: '5000', 'init-limits': 'no' } },
  { name: 'terminate by IKE name', command: 'terminate', call: c => c.terminate({ ike: 'up1' }), message: { ike: 'up1' } },
  { name: 'terminate by IKE id, forced', command: 'terminate', call: c => c.terminate({ ikeId: 7, force: true, timeoutMs: -1 }), message: { ike_id: '7', timeout: '-1', force: 'yes' } },
]
for (const c of commands) {
  t.test(`${c.name}: sends the README message, resolves on success`, async t => {
    const { charon, client } = clientWith({ [c.command]: ok })
    await c.call(client)
    t.same(sent(charon, c.command), [c.message])
  })
  t.test(`${c.name}: success = no becomes ViciCommandError with errmsg`, async t => {
    const { client } = clientWith({ [c.command]: () => ({ response: { success: 'no', errmsg: 'nope' } }) })
    await t.rejects(c.call(client), { name: 'ViciCommandError', command: c.command, errmsg: 'nope', message: /nope/ })
  })
}

t.test('initiate with a log listener streams control-log', async t => {
  const { charon, client } = clientWith({
    initiate: () => ({ stream: [{ event: 'control-log', message: { group: 'IKE', level: '1', msg: 'initiating IKE_SA up1[1]' } }], response: { success: 'yes' } }),
  })
  const logs: string[] = []
  await client.initiate({ child: 'net' }, m => logs.push(String(m['msg'])))
  t.same(logs, ['initiating IKE_SA up1[1]'])
  t.same(charon.received.map(p => p.type), ['event-register', 'cmd-request', 'event-unregister'])
})

t.test('list-sas streams list-sa events into typed IKE_SA states', async t => {
  const { charon, client } = clientWith({
    'list-sas': () => ({
      stream: [
        {
          event: 'list-sa',
          message: {
            up1: {
              uniqueid: '3', state: 'ESTABLISHED', 'local-host': '192.0.2.1', 'remote-host': '192.0.2.2', 'local-id': 'edge', 'remote-id': 'hub', initiator: 'yes',
              'child-sas': { 'net-4': { name: 'net', uniqueid: '4', state: 'INSTALLED', mode: 'TUNNEL', encap: 'yes', 'packets-out': '2', 'bytes-out': '168', 'local-ts': ['10.1.0.1/32'], 'remote-ts': ['10.2.0.1/32'] } },
            },
          },
        },
      ],
      response: {},
    }),
  })
  const [sa, ...rest] = await client.listSas({ ike: 'up1' })
  t.same(rest, [])
  t.match(sa, { name: 'up1', uniqueId: '3', state: 'ESTABLISHED', localHost: '192.0.2.1', remoteId: 'hub', initiator: true })
  t.match(sa?.children, [{ name: 'net', uniqueId: '4', state: 'INSTALLED', encap: true, packetsOut: 2, bytesOut: 168, bytesIn: 0, localTs: ['10.1.0.1/32'] }])
  t.same(sent(charon, 'list-sas'), [{ ike: 'up1' }], 'blocking by default')
  await client.listSas({ noblock: true, ikeId: 3 })
  t.same(sent(charon, 'list-sas')[1], { noblock: 'yes', ike_id: '3' })
})

t.test('list-conns and get-conns', async t => {
  const { client } = clientWith({
    'list-conns': () => ({ stream: [{ event: 'list-conn', message: { up1: { version: 'IKEv2' } } }, { event: 'list-conn', message: { up2: { version: 'IKEv2' } } }], response: {} }),
    'get-conns': () => ({ response: { conns: ['up1', 'up2'] } }),
  })
  t.same(await client.listConns(), [{ name: 'up1', body: { version: 'IKEv2' } }, { name: 'up2', body: { version: 'IKEv2' } }])
  t.same(await client.getConns(), ['up1', 'up2'])
})

t.test('get-conns with a non-list reply is a protocol error', async t => {
  const { client } = clientWith({ 'get-conns': () => ({ response: { conns: 'up1' } }) })
  await t.rejects(client.getConns(), { name: 'ViciProtocolError' })
})
