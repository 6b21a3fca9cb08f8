// Builds a Topology in network namespaces through an injected CommandRunner, hands back a handle to
// impair providers, read their counters and run commands in a node, and tears everything down again.
// Teardown works from the prefix alone, so it also clears what a crashed run left behind.
import { runChecked, type CommandResult, type CommandRunner } from './command-runner.js'
import { PROVIDER_TABLE, buildPlan, netemSteps, type LabStep } from './build-plan.js'
import { describeImpairment, impairmentSteps, needsNetem, restoreSteps, type Impairment } from './impairments.js'
import { checkPrefix, PROVIDERS, type NodeName, type ProviderName, type Topology } from './topology.js'

export interface NetemStatus {
  readonly applied: boolean
  /** "LTE 45 ms ± 8 ms" or "not applied: no netem". */
  readonly detail: string
}

export interface ProviderCounters {
  /** Packets the provider forwarded from the edge (upstream) and towards it (downstream). */
  readonly fromEdge: number
  readonly toEdge: number
}

export interface Lab {
  readonly topology: Topology
  readonly netem: Readonly<Record<ProviderName, NetemStatus>>
  /** Runs argv inside a node's namespace (`ip netns exec`); resolves with its result whatever the exit code. */
  exec(node: NodeName, argv: readonly string[]): Promise<CommandResult>
  impair(provider: ProviderName, impairment: Impairment): Promise<void>
  /** Removes every impairment of the provider and puts its profile back. */
  restore(provider: ProviderName): Promise<void>
  counters(provider: ProviderName): Promise<ProviderCounters>
  teardown(): Promise<string[]>
}

export class LabStepError extends Error {
  override readonly name = 'LabStepError'
  constructor(readonly step: LabStep, cause: unknown) {
    super(`lab step "${step.what}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

export class NetemUnavailableError extends Error {
  override readonly name = 'NetemUnavailableError'
}

export const NO_NETEM = 'not applied: no netem'

async function runSteps(run: CommandRunner, steps: readonly LabStep[]): Promise<void> {
  for (const step of steps) {
    try {
      await runChecked(run, step.request)
    } catch (error) {
      throw new LabStepError(step, error)
    }
  }
}

const OPER_UP_TIMEOUT_MS = 5000

/**
 * Waits until the kernel reports the link operationally up. Carrier coming back is not enough: the
 * kernel's linkwatch handles a carrier-on event up to a second later (net/core/link_watch.c), and until
 * it runs dev_activate the device's qdisc is the noop one, which drops every packet sent through it.
 */
async function waitOperUp(run: CommandRunner, namespace: string, ifname: string): Promise<void> {
  const deadline = Date.now() + OPER_UP_TIMEOUT_MS
  for (;;) {
    const result = await runChecked(run, { argv: ['ip', '-n', namespace, '-o', 'link', 'show', ifname] })
    if (/ state UP /.test(result.stdout)) return
    if (Date.now() > deadline) throw new Error(`${ifname} in ${namespace} is not operationally up ${OPER_UP_TIMEOUT_MS} ms after restore: ${result.stdout.trim()}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** tc's answer when the kernel has no sch_netem and cannot load it (net/sched/sch_api.c, qdisc_create → -ENOENT). */
function isMissingQdisc(result: CommandResult): boolean {
  return /qdisc kind is unknown|Unknown qdisc/i.test(result.stderr)
}

/** Applies a provider's netem steps; reports instead of failing when the kernel has no netem. */
async function applyNetem(run: CommandRunner, steps: readonly LabStep[], detail: string): Promise<NetemStatus> {
  for (const step of steps) {
    const result = await run(step.request)
    if (result.code === 0) continue
    if (isMissingQdisc(result)) return { applied: false, detail: NO_NETEM }
    throw new LabStepError(step, new Error(`exited ${result.code}: ${result.stderr.trim()}`))
  }
  return { applied: true, detail }
}

/** `ip netns list` lines look like "lab7-edge (id: 3)" or just "lab7-edge". */
export function namespacesWithPrefix(ipNetnsList: string, prefix: string): string[] {
  return ipNetnsList
    .split('\n')
    .map(line => line.trim().split(/\s+/)[0] ?? '')
    .filter(name => name.startsWith(prefix))
}

/**
 * Deletes every namespace whose name starts with `prefix`, killing processes still inside first (a
 * netns lives on while a process holds it; `ip netns del` only removes its name). Idempotent.
 */
export async function teardownLab(prefix: string, run: CommandRunner): Promise<string[]> {
  checkPrefix(prefix)
  const listed = await runChecked(run, { argv: ['ip', 'netns', 'list'] })
  const names = namespacesWithPrefix(listed.stdout, prefix)
  for (const name of names) {
    const pids = (await run({ argv: ['ip', 'netns', 'pids', name] })).stdout.split(/\s+/).filter(Boolean)
    if (pids.length > 0) await run({ argv: ['kill', '-KILL', ...pids] })
    const removed = await run({ argv: ['ip', 'netns', 'del', name] })
    if (removed.code !== 0 && !/No such file/.test(removed.stderr)) {
      throw new Error(`teardown of lab "${prefix}": ip netns del ${name} exited ${removed.code}: ${removed.stderr.trim()}`)
    }
  }
  return names
}

/** Parses `nft -j list counters table inet sdwan_lab`. */
export function parseCounters(json: string, where: string): ProviderCounters {
  const items = (JSON.parse(json) as { nftables?: Array<{ counter?: { name: string; packets: number } }> }).nftables ?? []
  const packets = (name: string) => {
    const counter = items.find(item => item.counter?.name === name)?.counter
    if (counter === undefined) throw new Error(`${where}: nft has no counter "${name}" in table ${PROVIDER_TABLE}`)
    return counter.packets
  }
  return { fromEdge: packets('from_edge'), toEdge: packets('to_edge') }
}

/**
 * Builds the topology. Clears leftovers of the same prefix first; on any failure tears down what it made
 * and rethrows, so a failed build leaves nothing behind. `netem: false` skips the profiles (report says so).
 */
export async function buildLab(topology: Topology, run: CommandRunner, options: { netem?: boolean } = {}): Promise<Lab> {
  const { prefix, namespaces } = topology
  await teardownLab(prefix, run)
  const netem = {} as Record<ProviderName, NetemStatus>
  try {
    await runSteps(run, buildPlan(topology))
    for (const provider of PROVIDERS) {
      const { profile } = topology.uplinks[provider]
      const detail = `${profile.label} ${profile.rttMs} ms ± ${profile.jitterMs} ms`
      netem[provider] =
        options.netem === false
          ? { applied: false, detail: 'not applied: disabled by caller' }
          : await applyNetem(run, netemSteps(topology, provider, profile.rttMs, profile.jitterMs), detail)
    }
  } catch (error) {
    await teardownLab(prefix, run)
    throw error
  }
  return {
    topology,
    netem,
    exec: (node, argv) => run({ argv: ['ip', 'netns', 'exec', namespaces[node], ...argv] }),
    async impair(provider, impairment) {
      if (needsNetem(impairment) && !netem[provider].applied) {
        throw new NetemUnavailableError(
          `${describeImpairment(impairment)} on ${provider}: ${NO_NETEM} (this kernel lacks sch_netem; run it in the VM lab)`,
        )
      }
      await runSteps(run, impairmentSteps(topology, provider, impairment))
    },
    async restore(provider) {
      await runSteps(run, restoreSteps(topology, provider, netem[provider].applied))
      const { ifname, providerIfname } = topology.uplinks[provider]
      await waitOperUp(run, namespaces.edge, ifname)
      await waitOperUp(run, namespaces[provider], providerIfname)
    },
    async counters(provider) {
      const argv = ['ip', 'netns', 'exec', namespaces[provider], 'nft', '-j', 'list', 'counters', 'table', 'inet', PROVIDER_TABLE]
      const result = await runChecked(run, { argv })
      return parseCounters(result.stdout, `${provider} (${namespaces[provider]})`)
    },
    teardown: () => teardownLab(prefix, run),
  }
}
