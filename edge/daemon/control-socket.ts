// The daemon's local control socket (a Unix socket, root only): one JSON request line in, one JSON
// reply line out, then close. `sdwan-edge status` is its client. Bad requests get an error reply.
import { chmod, mkdir, unlink } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import { dirname } from 'node:path'

export const DEFAULT_CONTROL_SOCKET = '/run/sdwan-edge/edge.sock'
const MAX_REQUEST = 4096

export type ControlHandler = (command: string) => Promise<unknown>

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: string }

/** Listens on `path`; a stale socket file left by a crashed daemon is replaced, a live one is an error. */
export async function serveControl(path: string, handle: ControlHandler): Promise<Server> {
  await mkdir(dirname(path), { recursive: true })
  if (await answers(path)) throw new Error(`another daemon is already listening on ${path}`)
  await unlink(path).catch(() => undefined)
  const server = createServer(sock => {
    let buf = ''
    sock.setEncoding('utf8')
    sock.on('error', () => undefined)
    sock.on('data', chunk => {
      buf += chunk
      if (buf.length > MAX_REQUEST) return void sock.end(reply({ ok: false, error: `request longer than ${MAX_REQUEST} bytes` }))
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      let command: unknown
      try {
        command = (JSON.parse(line) as { command?: unknown }).command
      } catch {
        return void sock.end(reply({ ok: false, error: 'request is not JSON; send {"command":"status"}' }))
      }
      if (typeof command !== 'string') return void sock.end(reply({ ok: false, error: 'request needs a string "command"' }))
      handle(command).then(
        result => sock.end(reply({ ok: true, result })),
        (err: unknown) => sock.end(reply({ ok: false, error: err instanceof Error ? err.message : String(err) })),
      )
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  await chmod(path, 0o660)
  return server
}

const reply = (r: ControlReply): string => JSON.stringify(r) + '\n'

async function answers(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** Sends one command and returns the reply; rejects with a clear message when no daemon answers. */
export async function askControl(path: string, command: string, timeoutMs = 5000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const s = connect(path)
    let buf = ''
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no reply from the daemon on ${path} within ${timeoutMs} ms`))
    }, timeoutMs)
    s.setEncoding('utf8')
    s.on('connect', () => s.write(JSON.stringify({ command }) + '\n'))
    s.on('data', c => (buf += c))
    s.on('end', () => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(buf) as ControlReply)
      } catch {
        reject(new Error(`the daemon on ${path} sent an unreadable reply`))
      }
    })
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no daemon is running (is `sdwan-edge run` started?)' : err.message
      reject(new Error(`cannot reach the daemon on ${path}: ${why}`))
    })
  })
}
