// Ed25519 (RFC 8032) signatures over site policy text. Public keys travel as the policy schema writes
// them (policySigningKey: base64 of the raw 32-byte key); private keys stay in PKCS#8 PEM files on the
// orchestrator. Signing and verifying are deterministic, so this file is pure apart from key generation.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'

export class SigningKeyInvalid extends Error {
  override readonly name = 'SigningKeyInvalid'
}

export interface SigningKeyPair {
  /** PKCS#8 PEM: keep it on the orchestrator, readable only by the signer. */
  readonly privateKeyPem: string
  /** Raw 32-byte public key, base64: the value of telemetry.policySigningKey. */
  readonly publicKeyBase64: string
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKeyBase64: rawPublicKeyBase64(publicKey) }
}

export function rawPublicKeyBase64(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as { x?: string }
  if (!jwk.x) throw new SigningKeyInvalid('not an Ed25519 key')
  return Buffer.from(jwk.x, 'base64url').toString('base64')
}

/** The public key of a policySigningKey value; throws SigningKeyInvalid unless it is 32 bytes of base64. */
export function publicKeyFromBase64(base64: string): KeyObject {
  const raw = Buffer.from(base64, 'base64')
  if (raw.length !== 32 || raw.toString('base64') !== base64) throw new SigningKeyInvalid('an Ed25519 public key is 32 bytes, written in base64 (44 characters ending in =)')
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
}

/** Reads a PKCS#8 PEM private key; throws SigningKeyInvalid unless it is Ed25519. */
export function privateKeyFromPem(pem: string | Buffer): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (error) {
    throw new SigningKeyInvalid(`not a PEM private key: ${(error as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyInvalid(`an ${key.asymmetricKeyType ?? 'unknown'} key; policies are signed with Ed25519`)
  return key
}

/** Signature over the UTF-8 bytes of the policy text, base64 (88 characters). */
export const signPolicyText = (text: string, privateKey: KeyObject): string => sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64')

/** True when `signatureBase64` is a valid signature of `text` by any of `publicKeys`. */
export function verifyPolicyText(text: string, signatureBase64: string, publicKeys: readonly KeyObject[]): boolean {
  const signature = Buffer.from(signatureBase64, 'base64')
  if (signature.length !== 64) return false
  const message = Buffer.from(text, 'utf8')
  return publicKeys.some(key => verify(null, message, key, signature))
}
