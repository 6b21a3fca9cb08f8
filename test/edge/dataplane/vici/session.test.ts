// ViciSession against an in-memory VICI peer: one exchange in flight, streamed results, typed failures.
import t from 'tap'
import { ViciCodecError, ViciConnectionError } from '../../../../edge/dataplane/vici/errors.js'
import type { ViciMessage } from '../../../../edge/dataplane/vici/message.js'
import { ViciSession } from '../../../../edge/dataplane/vici/session.js'
import { FakeCharon, type CommandHandler } from './helpers/fake-charon.js'

function sessionWith(commands: Record<string, CommandHandler>): { charon: FakeCharon; session: ViciSession } {
  const charon = new FakeCharon(commands)
  return { charon, session: new ViciSession(charon.socket) }
}

t.test('a request writes one CMD_REQUEST and resolves with the CMD_RESPONSE message', async t => {
  const { charon, session } = sessionWith({ version: () => ({ response: { daemon: 'charon' } }) })
  t.same(await session.request('version'), { daemon: 'charon' })
  t.same(charon.received, [{ type: 'cmd-request', name: 'version', message: {} }])
})

t.test('only one command is in flight; the next waits for the response', async t => {
  const { charon, session } = sessionWith({ slow: () => 'hold', fast: () => ({ response: { n: '2' } }) })
  const first = session.request('slow')
  const second = session.request('fast')
  await new Promise(resolve => setImmediate(resolve))
  t.same(charon.received.map(p => p.type === 'cmd-request' && p.name), ['slow'], 'second not sent while first is pending')
  charon.held.shift()!()
  t.same(await first, { success: 'yes' })
  t.same(await second, { n: '2' })
  t.same(charon.received.map(p => p.type === 'cmd-request' && p.name), ['slow', 'fast'])
})

t.test('a streamed request registers, collects events before the response, then unregisters', async t => {
  const { charon, session } = sessionWith({
    'list-sas': () => ({ stream: [{ event: 'list-sa', message: { a: { state: 'ESTABLISHED' } } }, { event: 'list-sa', message: { b: { state: 'CONNECTING' } } }], response: {} }),
  })
  const seen: ViciMessage[] = []
  const reply = await session.streamedRequest('list-sas', { noblock: true }, 'list-sa', m => seen.push(m))
  t.same(reply, {})
  t.same(seen, [{ a: { state: 'ESTABLISHED' } }, { b: { state: 'CONNECTING' } }], 'both events, in order, before the reply resolved')
  t.same(
    charon.received.map(p => p.type),
    ['event-register', 'cmd-request', 'event-unregister'],
    'register → command → unregister',
  )
  t.same(charon.registered.size, 0)
})

t.test('CMD_UNKNOWN becomes ViciUnknownCommandError and the session stays usable', async t => {
  const { session } = sessionWith({ version: () => ({ response: { daemon: 'x' } }) })
  await t.rejects(session.request('no-such-command'), { name: 'ViciUnknownCommandError', command: 'no-such-command' })
  t.same(await session.request('version'), { daemon: 'x' })
})

t.test('EVENT_UNKNOWN on subscribe becomes ViciUnknownEventError', async t => {
  const { session } = sessionWith({})
  await t.rejects(session.subscribe('no-such-event', () => undefined), { name: 'ViciUnknownEventError', event: 'no-such-event' })
  t.ok(session.isOpen)
})

t.test('subscribed events arrive between commands; unsubscribed names are ignored', async t => {
  const { charon, session } = sessionWith({})
  const got: string[] = []
  await session.subscribe('child-updown', (m, name) => got.push(`${name}:${String(m['up'])}`))
  charon.send({ type: 'event', name: 'child-updown', message: { up: 'yes' } })
  charon.send({ type: 'event', name: 'ike-updown', message: { up: 'yes' } })
  await session.unsubscribe('child-updown')
  charon.send({ type: 'event', name: 'child-updown', message: { up: 'no' } })
  await new Promise(resolve => setImmediate(resolve))
  t.same(got, ['child-updown:yes'])
})

t.test('charon hanging up fails the pending and the queued exchanges with ViciConnectionError', async t => {
  const { charon, session } = sessionWith({ slow: () => 'hold' })
  const pending = session.request('slow')
  const queued = session.request('slow')
  await new Promise(resolve => setImmediate(resolve))
  charon.hangUp()
  await t.rejects(pending, { name: 'ViciConnectionError' })
  await t.rejects(queued, { name: 'ViciConnectionError' })
  t.ok((await session.closed) instanceof ViciConnectionError, 'closed settles with the reason')
  t.notOk(session.isOpen)
  await t.rejects(session.request('slow'), { name: 'ViciConnectionError' }, 'later requests fail at once')
})

t.test('undecodable bytes from charon fail the session with the codec error', async t => {
  const { charon, session } = sessionWith({ slow: () => 'hold' })
  const pending = session.request('slow')
  await new Promise(resolve => setImmediate(resolve))
  charon.sendRaw(Buffer.from([0, 0, 0, 1, 9]))
  const err = await pending.catch((e: unknown) => e)
  t.ok(err instanceof ViciCodecError, 'rejects with ViciCodecError')
  t.match(err, { kind: 'bad-packet-type' })
  t.notOk(session.isOpen)
})

t.test('an unsolicited reply is a protocol violation', async t => {
  const { charon, session } = sessionWith({})
  charon.send({ type: 'event-confirm' })
  t.match(await session.closed, { name: 'ViciProtocolError', message: /unsolicited event-confirm/ })
})

t.test('close() fails what is waiting and destroys the socket', async t => {
  const { charon, session } = sessionWith({ slow: () => 'hold' })
  const pending = session.request('slow')
  await new Promise(resolve => setImmediate(resolve))
  session.close()
  await t.rejects(pending, { name: 'ViciConnectionError', message: /closed by us/ })
  t.ok(charon.socket.destroyed)
})

t.test('open() wraps a connect failure in ViciConnectionError', async t => {
  await t.rejects(
    ViciSession.open(() => Promise.reject(Object.assign(new Error('connect ENOENT /run/x.vici'), { code: 'ENOENT' }))),
    { name: 'ViciConnectionError', message: /ENOENT/ },
  )
})

t.test('an unencodable request fails alone, before anything is written', async t => {
  const { charon, session } = sessionWith({ version: () => ({ response: {} }) })
  await t.rejects(session.request('load-conn', { ['x'.repeat(300)]: {} }), { name: 'ViciCodecError', kind: 'length-overflow' })
  t.same(charon.received, [])
  t.same(await session.request('version'), {})
})
