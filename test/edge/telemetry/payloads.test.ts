// Payload builders against their JSON Schemas, the topic tree and filter matching, and the command
// argument schemas — pure tables.
import t from 'tap'
import { collectFacts, inventoryPayload, systeminformationFacts } from '../../../edge/telemetry/inventory.js'
import { validateCommandArguments, validatePayload } from '../../../edge/telemetry/payload-schemas.js'
import { decisionsPayload, eventPayload, metricsPayload } from '../../../edge/telemetry/payloads.js'
import { deviceTopics, isOwnReplyTopic, topicMatches } from '../../../edge/telemetry/topics.js'
import { FIXED_FACTS, samplePathMetrics } from './helpers/edge.js'

const stamp = { ts: '2026-11-23T20:00:00.000Z', boot: '0123456789abcdef', seq: 1 }

t.test('built payloads match their schemas', async t => {
  const { metrics, health } = samplePathMetrics('fibre', 7)
  const m = metricsPayload(stamp, metrics, health)
  t.same(validatePayload('metrics', m), { ok: true })
  t.equal(m.rtt!.avgMs, 14.812, 'figures are rounded to the microsecond')
  t.same(validatePayload('metrics', metricsPayload(stamp, { ...metrics, rtt: null, mos: null }, { state: 'down', reason: 'blackout', since: 0 })), { ok: true })
  t.same(validatePayload('event', eventPayload(stamp, { type: 'path.down', severity: 'error', message: 'x', data: { path: 'lte' } })), { ok: true })
  t.same(validatePayload('decisions', decisionsPayload(stamp, [{ class: 'bulk', active: [{ path: 'fibre', weight: 3 }], keep: ['fibre'], reason: 'r' }])), { ok: true })
  const inventory = inventoryPayload(await collectFacts(FIXED_FACTS), '0.1.0', stamp.ts)
  t.same(validatePayload('inventory', inventory), { ok: true })
  t.same(inventory.interfaces.map(i => [i.name, i.speedMbps]), [['enp1s0', 1000], ['wwan0', null]], 'loopback left out, unknown speed is null')
})

t.test('schemas refuse what an orchestrator must not accept', async t => {
  const { metrics, health } = samplePathMetrics('fibre', 1)
  const good = metricsPayload(stamp, metrics, health)
  const bad: Array<[string, unknown]> = [
    ['unknown property', { ...good, extra: 1 }],
    ['loss over 100', { ...good, lossPct: 101 }],
    ['no seq', { ...good, seq: undefined }],
    ['bad boot id', { ...good, boot: 'xyz' }],
    ['bad timestamp', { ...good, ts: 'yesterday' }],
  ]
  for (const [what, data] of bad) t.notOk(validatePayload('metrics', JSON.parse(JSON.stringify(data))).ok, what)
  t.notOk(validatePayload('event', eventPayload(stamp, { type: 'Not A Type', severity: 'info', message: '' })).ok, 'event types are dotted lower-case names')
  t.notOk(validatePayload('command-reply', { v: 1, ts: stamp.ts, command: 'status', ok: true }).ok, 'ok replies carry a result')
  t.notOk(validatePayload('command-reply', { v: 1, ts: stamp.ts, command: 'status', ok: false, result: {} }).ok, 'failed replies carry an error')
})

t.test('the topic tree and MQTT filter matching', async t => {
  const topics = deviceTopics('sdwan', 'office-lyon', 'edge-lyon-1')
  t.same(
    [topics.state, topics.inventory, topics.metrics('fibre'), topics.events, topics.decisions, topics.commandRequest('status'), topics.policyPush, topics.policyOutcome, topics.replies],
    [
      'sdwan/office-lyon/edge-lyon-1/state',
      'sdwan/office-lyon/edge-lyon-1/inventory',
      'sdwan/office-lyon/edge-lyon-1/metrics/fibre',
      'sdwan/office-lyon/edge-lyon-1/events',
      'sdwan/office-lyon/edge-lyon-1/decisions',
      'sdwan/office-lyon/edge-lyon-1/cmd/status',
      'sdwan/office-lyon/edge-lyon-1/policy/push',
      'sdwan/office-lyon/edge-lyon-1/policy/outcome',
      'sdwan/office-lyon/edge-lyon-1/reply',
    ],
  )
  const table: Array<[string, string, boolean]> = [
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b/c', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
  ]
  for (const [filter, topic, expected] of table) t.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`)
  t.ok(isOwnReplyTopic(topics, 'sdwan/office-lyon/edge-lyon-1/reply/ops-7'))
  t.ok(isOwnReplyTopic(topics, 'sdwan/office-lyon/edge-lyon-1/reply'))
  t.notOk(isOwnReplyTopic(topics, 'sdwan/office-lyon/edge-lyon-1/replyx'))
  t.notOk(isOwnReplyTopic(topics, 'sdwan/office-lyon/other/reply'))
  t.notOk(isOwnReplyTopic(topics, 'sdwan/office-lyon/edge-lyon-1/reply/#'))
})

t.test('command arguments', async t => {
  const table: Array<[Parameters<typeof validateCommandArguments>[0], unknown, boolean]> = [
    ['status', {}, true],
    ['status', { verbose: true }, false],
    ['probe-now', {}, true],
    ['probe-now', { paths: ['fibre'] }, true],
    ['probe-now', { paths: [] }, false],
    ['probe-now', { paths: ['Fibre!'] }, false],
    ['re-steer', { classes: ['meetings'], reason: 'ops' }, true],
    ['re-steer', { classes: 'meetings' }, false],
    ['flush', { what: 'flows' }, true],
    ['flush', { what: 'spool' }, true],
    ['flush', {}, false],
    ['flush', { what: 'all' }, false],
  ]
  for (const [name, args, ok] of table) t.equal(validateCommandArguments(name, args).ok, ok, `${name} ${JSON.stringify(args)}`)
})

t.test('the inventory of this machine, read by systeminformation, matches its schema', async t => {
  const inventory = inventoryPayload(await collectFacts(systeminformationFacts), '0.1.0', stamp.ts)
  const result = validatePayload('inventory', inventory)
  t.ok(result.ok, result.ok ? 'valid' : result.problems.join('; '))
  t.equal(inventory.os.platform, process.platform)
  t.ok(inventory.cpu.cores >= 1, 'at least one CPU')
  t.ok(inventory.memory.totalBytes > 0, 'some memory')
  t.notOk(inventory.interfaces.some(i => i.name === 'lo'), 'loopback is left out')
})
