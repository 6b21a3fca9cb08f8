// `sdwan-edge sign-policy`: key generation, signing into an envelope an edge accepts, and refusals.
import { generateKeyPairSync } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { publicKeyFromBase64 } from '../../../edge/control/policy-signature.js'
import { judgePush } from '../../../edge/control/push-verdict.js'
import { runCli } from '../../helpers/cli.js'
import { policyText } from './helpers/policies.js'

const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-sign-test-'))
t.teardown(() => fsp.rm(dir, { recursive: true, force: true }))

t.test('--generate-key writes a 0600 private key once and prints the policySigningKey', async t => {
  const r = await runCli(['sign-policy', '--generate-key', 'orchestrator.key'], dir)
  t.equal(r.code, 0, r.stderr)
  const publicKey = /policySigningKey: "([A-Za-z0-9+/]{43}=)"/.exec(r.stdout)?.[1]
  t.ok(publicKey, 'prints the public key in policy form')
  t.equal((await fsp.stat(join(dir, 'orchestrator.key'))).mode & 0o777, 0o600)
  const again = await runCli(['sign-policy', '--generate-key', 'orchestrator.key'], dir)
  t.equal(again.code, 1)
  t.match(again.stderr, /never overwritten/)
})

t.test('a signed policy is an envelope the edge accepts; edits break it', async t => {
  const gen = await runCli(['sign-policy', '--generate-key', 'signer.key'], dir)
  const publicKey = /policySigningKey: "(.+)"/.exec(gen.stdout)![1]!
  await fsp.writeFile(join(dir, 'site.yaml'), policyText(12, { signingKey: publicKey }))
  const r = await runCli(['sign-policy', '--key', 'signer.key', 'site.yaml', '--out', 'site.signed.json'], dir)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /serial 12 signed into site.signed.json/)
  const envelope = await fsp.readFile(join(dir, 'site.signed.json'))
  t.equal(JSON.parse(envelope.toString()).policy, await fsp.readFile(join(dir, 'site.yaml'), 'utf8'), 'the exact file text is carried')
  const context = { trustedKeys: [publicKeyFromBase64(publicKey)], serialFloor: 11, label: 'push' }
  t.match(judgePush(envelope, context), { accepted: true, policy: { serial: 12 } })
  const edited = JSON.parse(envelope.toString())
  edited.policy = edited.policy.replace('serial: 12', 'serial: 13')
  t.match(judgePush(Buffer.from(JSON.stringify(edited)), context), { accepted: false, reason: 'signature' })
  const toStdout = await runCli(['sign-policy', '-k', 'signer.key', 'site.yaml'], dir)
  t.equal(toStdout.code, 0)
  t.match(JSON.parse(toStdout.stdout), { format: 'sdwan-signed-policy/1' })
})

t.test('refusals: invalid policy, missing key, wrong key type, no file', async t => {
  await runCli(['sign-policy', '--generate-key', 'k.key'], dir)
  await fsp.writeFile(join(dir, 'broken.yaml'), policyText(3).replace('cost: 20', 'cost: many'))
  const invalid = await runCli(['sign-policy', '--key', 'k.key', 'broken.yaml'], dir)
  t.equal(invalid.code, 2)
  t.match(invalid.stderr, /^broken\.yaml:\d+:\d+: \/uplinks\/1\/cost: /m)
  t.equal(invalid.stdout, '', 'nothing signed')
  const noKey = await runCli(['sign-policy', 'broken.yaml'], dir)
  t.equal(noKey.code, 2)
  t.match(noKey.stderr, /--key PRIVATE_KEY_FILE is required/)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  await fsp.writeFile(join(dir, 'rsa.key'), rsa)
  await fsp.writeFile(join(dir, 'ok.yaml'), policyText(3))
  const wrongType = await runCli(['sign-policy', '--key', 'rsa.key', 'ok.yaml'], dir)
  t.equal(wrongType.code, 1)
  t.match(wrongType.stderr, /rsa key; policies are signed with Ed25519/)
  const missing = await runCli(['sign-policy', '--key', 'k.key', 'nowhere.yaml'], dir)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /ENOENT|no such file/)
  const help = await runCli(['sign-policy', '--help'], dir)
  t.equal(help.code, 0)
  t.match(help.stdout, /^usage: sdwan-edge sign-policy --key PRIVATE_KEY_FILE POLICY_FILE \[--out FILE\]/)
})
