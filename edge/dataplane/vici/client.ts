// Typed VICI commands over one ViciSession. Shapes follow strongSwan's vici README ("Client-initiated
// commands"); commands that report `success = no` with an `errmsg` throw ViciCommandError.
import { ViciCommandError, ViciProtocolError } from './errors.js'
import type { ViciBlob, ViciMessage, ViciMessageInput } from './message.js'
import { parseIkeSas, type IkeSaState } from './sa-state.js'
import { ViciSession, type ViciConnect, type ViciEventListener } from './session.js'

export interface ViciVersion {
  readonly daemon: string
  readonly version: string
  readonly sysname: string
  readonly release: string
  readonly machine: string
}

export interface SharedSecret {
  /** Unique id so the secret can later be replaced or removed with unload-shared (strongSwan ≥ 5.5.2). */
  readonly id?: string
  readonly type: 'IKE' | 'EAP' | 'XAUTH' | 'NTLM'
  readonly data: ViciBlob
  readonly owners: readonly string[]
}

export interface CertificateLoad {
  readonly type: 'X509' | 'X509_AC' | 'X509_CRL'
  readonly flag?: 'NONE' | 'CA' | 'AA' | 'OCSP'
  /** PEM or DER. */
  readonly data: ViciBlob
}

export interface PrivateKeyLoad {
  /** `any` lets charon detect RSA/ECDSA/Ed25519 from the encoding. */
  readonly type: 'rsa' | 'ecdsa' | 'ed25519' | 'ed448' | 'any'
  readonly data: ViciBlob
}

export interface InitiateRequest {
  readonly child: string
  readonly ike?: string
  /** 0 (default) waits until the CHILD_SA is up or failed; -1 returns at once (README, initiate()). */
  readonly timeoutMs?: number
  readonly initLimits?: boolean
  readonly loglevel?: number
}

export type TerminateRequest = (
  | { readonly ike: string }
  | { readonly child: string }
  | { readonly ikeId: number }
  | { readonly childId: number }
) & { readonly timeoutMs?: number; readonly force?: boolean; readonly loglevel?: number }

export interface NamedSection {
  readonly name: string
  readonly body: ViciMessage
}

export type ControlLogListener = (entry: ViciMessage) => void

export class ViciClient {
  constructor(readonly session: ViciSession) {}

  static async connect(connect: ViciConnect): Promise<ViciClient> {
    return new ViciClient(await ViciSession.open(connect))
  }

  close(): void {
    this.session.close()
  }

  async version(): Promise<ViciVersion> {
    const r = await this.session.request('version')
    return {
      daemon: str(r, 'daemon', 'version'),
      version: str(r, 'version', 'version'),
      sysname: str(r, 'sysname', 'version'),
      release: str(r, 'release', 'version'),
      machine: str(r, 'machine', 'version'),
    }
  }

  /** Loads or replaces one connection; `conn` is its swanctl.conf-style section (see ipsec/tunnel-conn.ts). */
  loadConn(name: string, conn: ViciMessageInput): Promise<void> {
    return this.checked('load-conn', { [name]: conn })
  }

  unloadConn(name: string): Promise<void> {
    return this.checked('unload-conn', { name })
  }

  loadShared(secret: SharedSecret): Promise<void> {
    return this.checked('load-shared', { id: secret.id, type: secret.type, data: secret.data, owners: secret.owners })
  }

  unloadShared(id: string): Promise<void> {
    return this.checked('unload-shared', { id })
  }

  loadCert(cert: CertificateLoad): Promise<void> {
    return this.checked('load-cert', { type: cert.type, flag: cert.flag ?? 'NONE', data: cert.data })
  }

  loadKey(key: PrivateKeyLoad): Promise<void> {
    return this.checked('load-key', { type: key.type, data: key.data })
  }

  /** Initiates a CHILD_SA (and its IKE_SA if needed); with the default timeout it resolves once it is up. */
  initiate(req: InitiateRequest, onLog?: ControlLogListener): Promise<void> {
    const message: ViciMessageInput = {
      child: req.child,
      ike: req.ike,
      timeout: req.timeoutMs,
      'init-limits': req.initLimits,
      loglevel: req.loglevel,
    }
    return this.checked('initiate', message, onLog)
  }

  terminate(req: TerminateRequest, onLog?: ControlLogListener): Promise<void> {
    const message: ViciMessageInput = {
      ike: 'ike' in req ? req.ike : undefined,
      child: 'child' in req ? req.child : undefined,
      ike_id: 'ikeId' in req ? req.ikeId : undefined,
      child_id: 'childId' in req ? req.childId : undefined,
      timeout: req.timeoutMs,
      force: req.force,
      loglevel: req.loglevel,
    }
    return this.checked('terminate', message, onLog)
  }

  /**
   * Streams list-sa events. `noblock` makes charon skip IKE_SAs another thread has checked out instead of
   * waiting for them; seen here: right after `initiate` returns the new IKE_SA can still be checked out, and
   * a noblock listing omits it. So blocking is the default, and noblock is for status views only.
   */
  async listSas(filter: { ike?: string; ikeId?: number; noblock?: boolean } = {}): Promise<IkeSaState[]> {
    const sas: IkeSaState[] = []
    const message = { noblock: filter.noblock ? true : undefined, ike: filter.ike, ike_id: filter.ikeId }
    await this.session.streamedRequest('list-sas', message, 'list-sa', m => {
      sas.push(...parseIkeSas(m))
    })
    return sas
  }

  /** All connections charon knows (any backend), streamed as list-conn events. */
  async listConns(ike?: string): Promise<NamedSection[]> {
    const conns: NamedSection[] = []
    await this.session.streamedRequest('list-conns', { ike }, 'list-conn', m => {
      for (const [name, body] of Object.entries(m)) {
        if (typeof body === 'string' || Array.isArray(body)) throw new ViciProtocolError(`list-conn entry ${name} is not a section`)
        conns.push({ name, body })
      }
    })
    return conns
  }

  /** Names of connections loaded over VICI only. */
  async getConns(): Promise<string[]> {
    const r = await this.session.request('get-conns')
    const conns = r['conns'] ?? []
    if (!Array.isArray(conns)) throw new ViciProtocolError('get-conns reply: conns is not a list')
    return conns
  }

  private async checked(command: string, message: ViciMessageInput, onLog?: ViciEventListener): Promise<void> {
    const reply = onLog ? await this.session.streamedRequest(command, message, 'control-log', onLog) : await this.session.request(command, message)
    if (reply['success'] !== 'yes') {
      const errmsg = reply['errmsg']
      throw new ViciCommandError(command, typeof errmsg === 'string' ? errmsg : '')
    }
  }
}

function str(m: ViciMessage, key: string, command: string): string {
  const v = m[key]
  if (typeof v !== 'string') throw new ViciProtocolError(`${command} reply lacks the string "${key}"`)
  return v
}
