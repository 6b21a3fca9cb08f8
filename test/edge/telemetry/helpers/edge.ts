// Builds the edge's TelemetryClient for broker tests, and sample path metrics to report.
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { PathHealth } from '../../../../probes/health.js'
import type { PathMetrics } from '../../../../probes/metrics/path-metrics.js'
import type { TelemetrySettings } from '../../../../edge/config/policy.js'
import type { SystemFacts } from '../../../../edge/telemetry/inventory.js'
import { TelemetryClient, type TelemetryClientOptions } from '../../../../edge/telemetry/telemetry-client.js'
import type { ClientCredentials } from './test-pki.js'
import { PREFIX, type TlsBroker } from './tls-broker.js'

export const FIXED_FACTS: SystemFacts = {
  system: async () => ({ manufacturer: 'PC Engines', model: 'APU4D4', serial: 'APU-0042' }),
  cpu: async () => ({ manufacturer: 'AMD', brand: 'GX-412TC SOC', cores: 4, physicalCores: 4, speed: 1 }),
  mem: async () => ({ total: 4 * 1024 ** 3 }),
  osInfo: async () => ({ platform: 'linux', distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0-28-amd64', arch: 'x64' }),
  networkInterfaces: async () => [
    { iface: 'lo', mac: '00:00:00:00:00:00', operstate: 'unknown', speed: null, ip4: '127.0.0.1', ip6: '::1', internal: true },
    { iface: 'enp1s0', mac: '00:0d:b9:5a:01:10', operstate: 'up', speed: 1000, ip4: '203.0.113.66', ip6: '2001:db8:ff00::2', internal: false },
    { iface: 'wwan0', mac: '', operstate: 'down', speed: -1, ip4: '', ip6: '', internal: false },
  ],
}

export function telemetrySettings(broker: TlsBroker, creds: ClientCredentials, overrides: Partial<TelemetrySettings> = {}): TelemetrySettings {
  return {
    broker: broker.url,
    tls: { caFile: broker.pki.caFile, certFile: creds.certFile, keyFile: creds.keyFile },
    topicPrefix: PREFIX,
    reportIntervalS: 1,
    spoolMaxMb: 8,
    ...overrides,
  }
}

export async function stateDir(t: Test): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-edge-state-'))
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }))
  return dir
}

export async function openEdge(
  t: Test,
  options: Pick<TelemetryClientOptions, 'identity' | 'settings'> & Partial<TelemetryClientOptions>,
): Promise<TelemetryClient> {
  const edge = await TelemetryClient.open({
    firmware: '0.1.0-test',
    stateDir: await stateDir(t),
    runningSerial: () => 7,
    systemFacts: FIXED_FACTS,
    backoff: { initialMs: 100, maxMs: 1000, jitter: 0.5 },
    ...options,
  })
  t.teardown(() => edge.stop())
  return edge
}

export function samplePathMetrics(path: string, i: number): { metrics: PathMetrics; health: PathHealth } {
  const lost = i % 7 === 0 ? 1 : 0
  return {
    metrics: {
      pathId: path,
      at: i * 1000,
      settled: 50,
      received: 50 - lost,
      lost,
      late: 0,
      duplicates: 0,
      reordered: 0,
      lossPct: (lost / 50) * 100,
      outageLost: 0,
      lossHorizon: { lost, settled: 50 },
      recentRttMs: 14.2,
      rtt: { minMs: 11.2, avgMs: 14.81234, maxMs: 31.5, p50Ms: 13.9, p95Ms: 22.1, p99Ms: 30.7 },
      jitterMs: 1.734,
      recentJitterMs: 1.9,
      ipdv: { meanAbsMs: 1.2, maxAbsMs: 9.1 },
      mos: 4.38,
      lastReplyAt: i * 1000,
      lastStray: null,
      firstSentAt: 0,
      consecutiveReplies: 12,
      consecutiveMisses: 0,
      totalSent: 50 * i,
      totalReceived: 50 * i - lost,
    },
    health: { state: lost ? 'degraded' : 'up', reason: lost ? 'loss 2% > 1%' : 'within thresholds', since: 0 },
  }
}
