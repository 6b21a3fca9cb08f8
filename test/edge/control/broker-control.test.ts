// Central management against a real Mosquitto (mutual TLS, per-device ACLs): pushes that are unsigned,
// tampered, replayed or older are refused with a reply saying why and the running policy kept; a valid
// push is applied and confirmed; a push that cuts the edge off from the broker is rolled back on the
// edge's own and reported once it is back; commands get typed replies, bad requests clear errors.
import { createPrivateKey } from 'node:crypto'
import t from 'tap'
import type { SitePolicy } from '../../../edge/config/policy.js'
import { attachControl, policyOutcomeChannel, type DaemonCommandHandlers } from '../../../edge/control/controller.js'
import { PolicyManager } from '../../../edge/control/policy-manager.js'
import { generateSigningKeyPair } from '../../../edge/control/policy-signature.js'
import { PolicyStore } from '../../../edge/control/policy-store.js'
import { validatePayload } from '../../../edge/telemetry/payload-schemas.js'
import { systemTimers } from '../../../edge/telemetry/timers.js'
import { openEdge, stateDir } from '../telemetry/helpers/edge.js'
import { requestReply, TestOrchestrator } from '../telemetry/helpers/orchestrator.js'
import { requireBroker } from '../telemetry/helpers/require-broker.js'
import { freePort, TlsBroker, waitFor } from '../telemetry/helpers/tls-broker.js'
import { parsed, policyText, signedPush } from './helpers/policies.js'

const LYON = { site: 'office-lyon', device: 'edge-lyon-1' }
const ROOT = `sdwan/${LYON.site}/${LYON.device}`
// Long enough for a round trip to a local broker on a loaded machine; the rollback test waits it out.
const GRACE_MS = 8000

if (requireBroker()) {
  const broker = await TlsBroker.start(t, [LYON])
  const keys = generateSigningKeyPair()
  const orchestratorKey = createPrivateKey(keys.privateKeyPem)
  const forgerKey = createPrivateKey(generateSigningKeyPair().privateKeyPem)
  const creds = broker.pki.client(LYON.device)
  const tls = { caFile: broker.pki.caFile, certFile: creds.certFile, keyFile: creds.keyFile }
  const text = (serial: number, brokerUrl = broker.url) => policyText(serial, { broker: brokerUrl, tls, signingKey: keys.publicKeyBase64 })

  const orchestrator = await TestOrchestrator.connect(t, broker, [`${ROOT}/policy/outcome`, `${ROOT}/reply/#`, `${ROOT}/state`])
  const localText = text(7)
  const local = parsed(localText)
  const edge = await openEdge(t, { identity: LYON, settings: local.telemetry!, runningSerial: () => policies.running.policy.serial })
  const applied: number[] = []
  const applyPolicy = async (policy: SitePolicy) => {
    applied.push(policy.serial)
    await edge.reconfigure({ site: policy.site.id, device: policy.device.id }, policy.telemetry!)
  }
  const policies: PolicyManager = await PolicyManager.open({
    store: new PolicyStore(await stateDir(t)),
    local: { policy: local, text: localText },
    applyPolicy,
    timers: systemTimers,
    graceMs: GRACE_MS,
    ...policyOutcomeChannel(edge),
  })
  const handlers: DaemonCommandHandlers = {
    status: async () => ({ uptimeS: 42, paths: [{ path: 'fibre', state: 'up', reason: 'within thresholds' }, { path: 'cable', state: 'down', reason: 'carrier lost' }] }),
    probeNow: async request => ({ probed: request.paths ?? ['fibre', 'cable'] }),
    reSteer: async () => ({ changed: ['meetings'] }),
    flushFlows: async () => ({ flushed: 12 }),
  }
  const control = attachControl({ telemetry: edge, policies, handlers })
  edge.start()
  await waitFor('the edge to connect', () => edge.connected)

  const outcomes = () => orchestrator.on(`${ROOT}/policy/outcome`).map(m => m.json as { outcome: string; serial: number | null; reason?: string })
  let pushes = 0
  const push = async (bytes: Buffer) => {
    const reply = await requestReply(orchestrator, `${ROOT}/policy/push`, bytes.toString('utf8'), `${ROOT}/reply/push-${++pushes}`)
    const valid = validatePayload('policy-outcome', reply.json)
    if (!valid.ok) throw new Error(`push reply does not match its schema: ${valid.problems.join('; ')}`)
    return reply.json as { outcome: string; reason?: string; serial: number | null; runningSerial: number; message: string; errors?: unknown[] }
  }

  t.test('unsigned, tampered, forged, replayed and older pushes are refused; serial 7 keeps running', async t => {
    const unsigned = Buffer.from(JSON.stringify({ format: 'sdwan-signed-policy/1', policy: text(8), signature: '' }))
    t.match(await push(unsigned), { outcome: 'rejected', reason: 'malformed', runningSerial: 7 })
    const genuine = JSON.parse(signedPush(text(8), orchestratorKey).toString('utf8'))
    const tampered = Buffer.from(JSON.stringify({ ...genuine, policy: genuine.policy.replace('maxLossPct: 1.5', 'maxLossPct: 50') }))
    t.match(await push(tampered), { outcome: 'rejected', reason: 'signature', runningSerial: 7 })
    t.match(await push(signedPush(text(8), forgerKey)), { outcome: 'rejected', reason: 'signature' })
    t.match(await push(signedPush(text(7), orchestratorKey)), { outcome: 'rejected', reason: 'serial', serial: 7, message: /not greater than 7/ })
    t.match(await push(signedPush(text(3), orchestratorKey)), { outcome: 'rejected', reason: 'serial', serial: 3 })
    const invalid = await push(signedPush(text(8).replace('intervalMs: 100', 'intervalMs: -5'), orchestratorKey))
    t.match(invalid, { outcome: 'rejected', reason: 'invalid', errors: [{ line: Number, column: Number, pointer: '/probes/intervalMs' }] })
    t.same(applied, [], 'nothing was applied')
    t.equal(policies.running.policy.serial, 7)
    await waitFor('every refusal on policy/outcome', () => outcomes().filter(o => o.outcome === 'rejected').length >= 6)
  })

  t.test('a valid push is applied and confirmed; replaying it is refused', async t => {
    const envelope = signedPush(text(8), orchestratorKey)
    t.match(await push(envelope), { outcome: 'applied', serial: 8, runningSerial: 8 })
    await policies.probationSettled()
    await waitFor('confirmed', () => outcomes().some(o => o.outcome === 'confirmed' && o.serial === 8))
    t.ok(outcomes().some(o => o.outcome === 'applied' && o.serial === 8), 'the applied outcome reached the broker (the round trip)')
    t.same(applied, [8])
    t.equal(policies.running.policy.serial, 8)
    t.match(await push(envelope), { outcome: 'rejected', reason: 'serial', serial: 8 }, 'the same envelope again is a replay')
  })

  t.test('a push that cuts the edge off from the broker is rolled back and reported', async t => {
    const deadBroker = `mqtts://127.0.0.1:${await freePort()}`
    // Applying it drops the session before a reply can go out: the outcome comes on policy/outcome later.
    await orchestrator.publish(`${ROOT}/policy/push`, signedPush(text(9, deadBroker), orchestratorKey).toString('utf8'))
    // Serial 9 moves the edge to a broker that is not there; it stays cut off for the whole grace period.
    await waitFor('serial 9 applied and the session gone', () => applied.includes(9) && !edge.connected)
    await policies.probationSettled()
    t.same(applied, [8, 9, 8], 'serial 8 applied again after the grace period')
    t.equal(policies.running.policy.serial, 8)
    await waitFor('the rolled-back report', () => outcomes().some(o => o.outcome === 'rolled-back' && o.serial === 9))
    t.notOk(outcomes().some(o => o.outcome === 'confirmed' && o.serial === 9), 'serial 9 was never confirmed')
    await waitFor('a birth showing serial 8', () => orchestrator.on(`${ROOT}/state`).some(m => (m.json as { serial: number; online: boolean }).online && (m.json as { serial: number }).serial === 8))
    t.match(await push(signedPush(text(9), orchestratorKey)), { outcome: 'rejected', reason: 'serial', serial: 9 }, 'the rolled-back serial is spent')
  })

  t.test('commands: typed replies with correlation data; bad requests get clear errors', async t => {
    const ask = async (name: string, payload: string, responseTopic = `${ROOT}/reply/cmd`) => {
      const reply = await requestReply(orchestrator, `${ROOT}/cmd/${name}`, payload, responseTopic)
      const valid = validatePayload('command-reply', reply.json)
      t.ok(valid.ok, `${name} reply matches its schema${valid.ok ? '' : ': ' + valid.problems.join('; ')}`)
      return reply.json as { ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } }
    }
    t.match(await ask('status', '{}'), { ok: true, result: { serial: 8, policySource: 'pushed', uptimeS: 42, paths: [{ path: 'fibre' }, { path: 'cable' }], telemetry: { link: 'up' } } })
    t.match(await ask('probe-now', '{"paths":["cable"]}'), { ok: true, result: { probed: ['cable'] } })
    t.match(await ask('probe-now', '{"paths":["satellite"]}'), { ok: false, error: { code: 'unknown-name', message: /path 'satellite'/ } })
    t.match(await ask('re-steer', '{"classes":["meetings"],"reason":"test"}'), { ok: true, result: { changed: ['meetings'] } })
    t.match(await ask('flush', '{"what":"flows"}'), { ok: true, result: { flushed: 12 } })
    t.match(await ask('flush', '{"what":"spool"}'), { ok: true, result: { flushed: 0 } })
    t.match(await ask('flush', '{"what":"everything"}'), { ok: false, error: { code: 'bad-request', message: /flows", "spool/ } })
    t.match(await ask('status', '{"verbose":'), { ok: false, error: { code: 'bad-json' } })
    t.match(await ask('reboot', '{}'), { ok: false, error: { code: 'unknown-command' } })
    const elsewhere = `sdwan/${LYON.site}/other-device/reply`
    const misdirected = Buffer.from('misdirected')
    await orchestrator.publish(`${ROOT}/cmd/status`, '{}', { responseTopic: elsewhere, correlationData: misdirected })
    await waitFor('the refusal on the device reply topic', () => orchestrator.messages.some(m => m.topic === `${ROOT}/reply` && m.correlationData?.equals(misdirected)))
    t.match(orchestrator.messages.find(m => m.topic === `${ROOT}/reply`)!.json, { ok: false, error: { code: 'bad-response-topic' } })
    await control.settled()
    t.ok(edge.connected, 'bad messages never broke the session')
  })
}
