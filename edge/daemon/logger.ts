// Logs: JSON lines to stdout (pino) for journald and log shippers; on a terminal, one readable line per
// record instead (time, level, message, then the fields as key=value).
import { pino, type Logger } from 'pino'

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }

/** Turns one pino JSON line into `HH:MM:SS.mmm LEVEL message key=value …`. Pure. */
export function prettyLine(json: string): string {
  let rec: Record<string, unknown>
  try {
    rec = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const { time, level, msg, pid: _pid, hostname: _host, ...rest } = rec
  const clock = typeof time === 'string' ? time.slice(11, 23) : new Date(Number(time)).toISOString().slice(11, 23)
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return `${clock} ${LEVELS[Number(level)] ?? String(level)} ${String(msg ?? '')}${fields.length ? '  ' + fields.join(' ') : ''}\n`
}

export function createLogger(level: string, pretty: boolean, out: { write(s: string): unknown } = process.stdout): Logger {
  const destination = pretty ? { write: (line: string) => out.write(prettyLine(line)) } : out
  return pino({ level, timestamp: pino.stdTimeFunctions.isoTime }, destination)
}
