// The device inventory (retained on PREFIX/SITE/DEVICE/inventory): model, CPU, memory, interfaces and
// their speeds, OS and firmware version. `SystemFacts` is the slice of `systeminformation` we read, so
// tests can pass fixed facts; `inventoryPayload` is pure.
import type { Systeminformation } from 'systeminformation'
import * as si from 'systeminformation'
import { PAYLOAD_VERSION, type InventoryPayload } from './payloads.js'

export interface SystemFacts {
  system(): Promise<Pick<Systeminformation.SystemData, 'manufacturer' | 'model' | 'serial'>>
  cpu(): Promise<Pick<Systeminformation.CpuData, 'brand' | 'manufacturer' | 'cores' | 'physicalCores' | 'speed'>>
  mem(): Promise<Pick<Systeminformation.MemData, 'total'>>
  osInfo(): Promise<Pick<Systeminformation.OsData, 'platform' | 'distro' | 'release' | 'kernel' | 'arch'>>
  networkInterfaces(): Promise<Array<Pick<Systeminformation.NetworkInterfacesData, 'iface' | 'mac' | 'operstate' | 'speed' | 'ip4' | 'ip6' | 'internal'>>>
}

export const systeminformationFacts: SystemFacts = {
  system: () => si.system(),
  cpu: () => si.cpu(),
  mem: () => si.mem(),
  osInfo: () => si.osInfo(),
  networkInterfaces: () => si.networkInterfaces(),
}

export interface CollectedFacts {
  readonly system: Awaited<ReturnType<SystemFacts['system']>>
  readonly cpu: Awaited<ReturnType<SystemFacts['cpu']>>
  readonly mem: Awaited<ReturnType<SystemFacts['mem']>>
  readonly os: Awaited<ReturnType<SystemFacts['osInfo']>>
  readonly interfaces: Awaited<ReturnType<SystemFacts['networkInterfaces']>>
}

export async function collectFacts(facts: SystemFacts): Promise<CollectedFacts> {
  const [system, cpu, mem, os, interfaces] = await Promise.all([facts.system(), facts.cpu(), facts.mem(), facts.osInfo(), facts.networkInterfaces()])
  return { system, cpu, mem, os, interfaces }
}

export function inventoryPayload(facts: CollectedFacts, firmware: string, ts: string): InventoryPayload {
  return {
    v: PAYLOAD_VERSION,
    ts,
    firmware,
    system: { manufacturer: facts.system.manufacturer, model: facts.system.model, serial: facts.system.serial },
    cpu: {
      brand: [facts.cpu.manufacturer, facts.cpu.brand].filter(Boolean).join(' '),
      cores: facts.cpu.cores,
      physicalCores: facts.cpu.physicalCores,
      speedGHz: facts.cpu.speed,
    },
    memory: { totalBytes: facts.mem.total },
    os: { platform: facts.os.platform, distro: facts.os.distro, release: facts.os.release, kernel: facts.os.kernel, arch: facts.os.arch },
    // Loopback says nothing about the box; a speed of -1 or 0 is how drivers without one answer.
    interfaces: facts.interfaces
      .filter(i => !i.internal)
      .map(i => ({
        name: i.iface,
        mac: i.mac,
        operstate: i.operstate,
        speedMbps: typeof i.speed === 'number' && i.speed > 0 ? i.speed : null,
        ipv4: i.ip4 ? [i.ip4] : [],
        ipv6: i.ip6 ? [i.ip6] : [],
      })),
  }
}
