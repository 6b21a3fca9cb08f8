// A link's packet counters and, for tunnel devices, its kind and xfrm if_id, from
// `ip -d -s -j link show dev X`: what the lab's scenarios read to see which device traffic crossed.
import { runChecked, type CommandRunner } from './command-runner.js'

export interface LinkCounters {
  readonly txPackets: number
  readonly rxPackets: number
  readonly kind: string | undefined
  readonly ifId: number | undefined
}

/** Parses `ip -d -s -j link show dev X`; throws if the link has no packet counters. Pure. */
export function parseLinkCounters(json: string): LinkCounters {
  const [link] = JSON.parse(json) as Array<{
    stats64?: { tx?: { packets?: number }; rx?: { packets?: number } }
    linkinfo?: { info_kind?: string; info_data?: { if_id?: number | string } }
  }>
  const rx = link?.stats64?.rx?.packets
  const tx = link?.stats64?.tx?.packets
  if (typeof rx !== 'number' || typeof tx !== 'number') throw new Error(`no stats64 rx/tx packets in: ${json.slice(0, 200)}`)
  const ifId = link?.linkinfo?.info_data?.if_id
  return { txPackets: tx, rxPackets: rx, kind: link?.linkinfo?.info_kind, ifId: ifId === undefined ? undefined : Number(ifId) }
}

export async function linkCounters(run: CommandRunner, netns: string, device: string): Promise<LinkCounters> {
  const result = await runChecked(run, { argv: ['ip', '-n', netns, '-d', '-s', '-j', 'link', 'show', 'dev', device] })
  return parseLinkCounters(result.stdout)
}
