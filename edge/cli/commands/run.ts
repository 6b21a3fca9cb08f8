// `sdwan-edge run --policy FILE`: the edge daemon.
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { DEFAULT_CONTROL_SOCKET } from '../../daemon/control-socket.js'
import { parseBackendChoice, type IpsecBackendChoice } from '../../dataplane/ipsec/ipsec-backend.js'
import { isHubPolicyText } from '../../hub/load.js'
import { UsageError, type Command } from '../command.js'

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal']

export const runCommand: Command = {
  name: 'run',
  summary: 'run the edge daemon: probe, steer, program the kernel',
  help: `usage: sdwan-edge run --policy FILE [options]

Runs the edge daemon: programs the policy's kernel state, probes every path (STAMP, on its own I/O thread),
steers each application class by its SLA, and answers 'sdwan-edge status' on a local socket.
A hub policy (device.role hub) runs the hub instead: it terminates the spokes' tunnels with kernel
ESP, keeps return traffic on the tunnel it came in on, and reflects STAMP probes.
Logs JSON lines to stdout (one readable line per record on a terminal).

Signals: SIGTERM/SIGINT stop, leaving forwarding as it is (fail-static) unless --flush-on-exit;
SIGHUP reloads the policy file (validated first; on any problem the running policy stays).

options:
  --policy FILE      the site policy (required)
  --socket PATH      control socket (default ${DEFAULT_CONTROL_SOCKET})
  --state-dir DIR    decision log and other state (default /var/lib/sdwan-edge)
  --flush-on-exit    remove every kernel object we own when stopping
  --log-level LEVEL  trace, debug, info, warn, error (default info)
  --ipsec-backend B  auto, kernel or libipsec (default auto): kernel ESP through xfrm interfaces where the
                     kernel can create them, else charon's userland kernel-libipsec; the policy is the same
  -h, --help         show this help

exit status: 0 stopped cleanly, 1 could not start, 2 invalid policy or arguments`,
  options: {
    policy: { type: 'string' },
    socket: { type: 'string' },
    'state-dir': { type: 'string' },
    'flush-on-exit': { type: 'boolean' },
    'log-level': { type: 'string' },
    'ipsec-backend': { type: 'string' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (the policy goes in --policy FILE)`)
    if (typeof values.policy !== 'string') throw new UsageError('--policy FILE is required')
    const level = (values['log-level'] as string | undefined) ?? 'info'
    if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')} (got '${level}')`)
    let ipsecBackend: IpsecBackendChoice
    try {
      ipsecBackend = parseBackendChoice((values['ipsec-backend'] as string | undefined) ?? 'auto')
    } catch (err) {
      throw new UsageError(`--ipsec-backend: ${(err as Error).message}`)
    }
    const policyFile = resolve(io.cwd, values.policy)
    // A hub policy (device.role hub) runs the hub mode (edge/hub); an unreadable file is the edge's to report.
    // Only the mode in use is loaded: an edge never carries the hub's code, nor a hub the edge's.
    const run = isHubPolicyText(await readFile(policyFile, 'utf8').catch(() => ''))
      ? (await import('../../hub/main.js')).runHub
      : (await import('../../main.js')).runEdge
    return run(
      {
        policyFile,
        socket: resolve(io.cwd, (values.socket as string | undefined) ?? DEFAULT_CONTROL_SOCKET),
        stateDir: resolve(io.cwd, (values['state-dir'] as string | undefined) ?? '/var/lib/sdwan-edge'),
        flushOnExit: values['flush-on-exit'] === true,
        logLevel: level,
        ipsecBackend,
        pretty: io.isTTY,
      },
      {
        stderr: io.stderr,
        signals: (onStop, onReload) => {
          process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload)
          return () => process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload)
        },
      },
    )
  },
}
