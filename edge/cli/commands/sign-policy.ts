// `sdwan-edge sign-policy`: the orchestrator's side of policy pushes. Signs a policy file into the
// envelope edges accept on PREFIX/SITE/DEVICE/policy/push (edge/control/policy-envelope.ts), and
// generates the Ed25519 key pair whose public half goes into telemetry.policySigningKey.
import { createPublicKey } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { readPolicy } from '../../config/load.js'
import { makeSignedPolicyEnvelope } from '../../control/policy-envelope.js'
import { generateSigningKeyPair, privateKeyFromPem, rawPublicKeyBase64, SigningKeyInvalid } from '../../control/policy-signature.js'
import { UsageError, type Command } from '../command.js'

export const signPolicyCommand: Command = {
  name: 'sign-policy',
  summary: 'sign a policy for pushing to edges (orchestrator side); make a signing key pair',
  help: `usage: sdwan-edge sign-policy --key PRIVATE_KEY_FILE POLICY_FILE [--out FILE]
       sdwan-edge sign-policy --generate-key PRIVATE_KEY_FILE

The first form validates POLICY_FILE and writes the signed envelope edges accept on
PREFIX/SITE/DEVICE/policy/push:
  {"format": "sdwan-signed-policy/1", "policy": "<the file's text>", "signature": "<base64>"}
where signature is Ed25519 over the file's exact bytes. An edge applies it only if a key it trusts
verifies the signature (the running policy's telemetry.policySigningKey, or a provisioning key) and
the policy's serial is greater than every serial it has accepted before.

The second form creates an Ed25519 key pair: the private key goes to PRIVATE_KEY_FILE (PKCS#8 PEM,
mode 0600, never overwritten) and the public key is printed in the form telemetry.policySigningKey
takes.

options:
  -k, --key FILE            the Ed25519 private key (PKCS#8 PEM) to sign with
  -o, --out FILE            write the envelope here instead of standard output
      --generate-key FILE   create a key pair; the private key goes to FILE
  -h, --help                show this help

exit status: 0 done, 1 the key is unusable or a file cannot be written, 2 bad usage or invalid policy`,
  options: {
    key: { type: 'string', short: 'k' },
    out: { type: 'string', short: 'o' },
    'generate-key': { type: 'string' },
  },
  async run({ values, positionals }, io) {
    const generate = values['generate-key']
    if (typeof generate === 'string') {
      if (positionals.length > 0 || values.key !== undefined || values.out !== undefined) throw new UsageError('--generate-key takes no other options or files')
      const pair = generateSigningKeyPair()
      try {
        await fsp.writeFile(resolve(io.cwd, generate), pair.privateKeyPem, { mode: 0o600, flag: 'wx' })
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        io.stderr(`sdwan-edge sign-policy: cannot create ${generate}: ${code === 'EEXIST' ? 'it exists (a signing key is never overwritten)' : (error as Error).message}\n`)
        return 1
      }
      io.stdout(`private key written to ${generate}\npolicySigningKey: "${pair.publicKeyBase64}"\n`)
      return 0
    }
    if (typeof values.key !== 'string') throw new UsageError('--key PRIVATE_KEY_FILE is required (or --generate-key FILE)')
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'no policy file given' : 'sign-policy takes exactly one policy file')
    const file = positionals[0]!
    let text: string
    let key
    try {
      key = privateKeyFromPem(await fsp.readFile(resolve(io.cwd, values.key)))
      text = await fsp.readFile(resolve(io.cwd, file), 'utf8')
    } catch (error) {
      const why = error instanceof SigningKeyInvalid ? `${values.key}: ${error.message}` : (error as Error).message
      io.stderr(`sdwan-edge sign-policy: ${why}\n`)
      return 1
    }
    // Validate exactly the text being signed, so an edge never has to refuse what we signed.
    const result = await readPolicy(resolve(io.cwd, file), file)
    if (!result.ok) {
      io.stderr(result.errors.map(e => formatPolicyError(e) + '\n').join(''))
      io.stderr(`${file}: not signed: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}\n`)
      return 2
    }
    const signer = rawPublicKeyBase64(createPublicKey(key))
    const declared = result.policy.telemetry?.policySigningKey
    if (declared !== undefined && declared !== signer) {
      io.stderr(`note: ${file} names policySigningKey ${declared}, not the signing key's ${signer}: edges will trust only that key for the next push (key rotation)\n`)
    }
    const envelope = JSON.stringify(makeSignedPolicyEnvelope(text, key)) + '\n'
    if (typeof values.out === 'string') {
      await fsp.writeFile(resolve(io.cwd, values.out), envelope)
      io.stderr(`${file}: serial ${result.policy.serial} signed into ${values.out}\n`)
    } else {
      io.stdout(envelope)
    }
    return 0
  },
}
