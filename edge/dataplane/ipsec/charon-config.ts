// Renders the strongswan.conf of one charon instance, with kernel-libipsec or kernel ESP as its IPsec
// backend (ipsec-backend.ts). Pure.
//
// Why one charon per tunnel: libipsec is policy-based only (if_id and marks are ignored) and one charon
// owns one TUN device, so route-based steering needs a daemon per tunnel, each with its own IKE ports,
// VICI socket and routing table (DESIGN.md, "strongSwan 5.9"). Kernel ESP keeps the same shape: one
// charon could serve every xfrm interface, but per-tunnel charons keep one supervisor, one VICI socket and
// one restart story for both backends, and a crashed charon takes one tunnel down, not all.

/** One charon instance: where it runs and what it owns. */
export interface CharonInstance {
  /** A short label (the uplink name), used in log lines and errors. */
  readonly name: string
  /** Who does ESP: charon's userland kernel-libipsec over a TUN (the default), or the kernel's xfrm through
   *  kernel-netlink. */
  readonly ipsec?: 'libipsec' | 'kernel'
  /** Network namespace to run in; undefined runs in the current one. */
  readonly netns?: string
  readonly confPath: string
  readonly viciSocketPath: string
  /** UDP port for IKE; charon floats to natTPort once a NAT is seen, which libipsec always fakes. */
  readonly ikePort: number
  readonly natTPort: number
  /** Table kernel-netlink installs the TUN routes into, and the priority of the rule it adds for it. */
  readonly routingTable: number
  readonly routingTablePrio: number
  readonly installRoutes: boolean
  /**
   * Restricts the rule kernel-netlink adds for routingTable to packets carrying this mark ("mark/mask",
   * "!mark/mask" inverts). Without it the rule matches all traffic, so with several charons the first table
   * holding a route to a selector would win whatever steering decided.
   */
  readonly routeRuleFwmark?: string
  /** SO_MARK on everything socket-default sends (IKE and, with libipsec, ESP in UDP), so the dataplane's
   *  fwmark rules can send this uplink's underlay traffic out of this uplink. */
  readonly socketFwmark?: number
  /** Default filelog level, -1..4 (1 is charon's default). */
  readonly logLevel?: number
  /**
   * IKE retransmission (strongswan.conf charon.retransmit_*). charon's defaults (5 tries, 4 s, base 1.8)
   * take ~165 s to give up on a dead peer; a tunnel whose uplink blacked out must be torn down and
   * re-initiated much sooner, or it cannot come back for minutes after the uplink does.
   */
  readonly retransmit?: { readonly tries: number; readonly timeoutS: number; readonly base: number }
}

/**
 * Plugins that are enough for IKEv2 with PSK or X.509 (RSA/ECDSA via gmp/pkcs1/pkcs8/x509) and ESP in
 * userland on Debian's strongSwan 5.9.8 packages without libstrongswan-standard-plugins (no openssl, gcm):
 * - random, nonce: RNGs for SPIs and nonces; aes, sha1, sha2, hmac, kdf: IKE and ESP transforms and PRF+
 *   (charon's own SA managers need HASH_SHA1, so sha1 is critical);
 * - gmp (MODP DH, RSA), curve25519 (x25519, ed25519);
 * - pem, pkcs1, pkcs8, x509, pubkey, revocation, constraints: load and verify certificates and keys;
 * - kernel-libipsec: ESP in userland over a TUN device (the host kernel has no xfrm states);
 *   kernel-netlink: routes, addresses and link events. The order matters: with kernel-netlink listed
 *   first, charon 5.9.8 uses it as the IPsec backend and every CHILD_SA fails ("unable to add SAD entry",
 *   netlink EPROTONOSUPPORT) on a kernel without xfrm;
 * - socket-default: IKE and ESP-in-UDP sockets; vici: our control socket.
 * Debian sets `load_modular`, with every plugin `load = no` unless listed: we list them.
 */
export const CHARON_PLUGINS = [
  'random', 'nonce', 'aes', 'sha1', 'sha2', 'hmac', 'kdf', 'gmp', 'curve25519',
  'pem', 'pkcs1', 'pkcs8', 'x509', 'pubkey', 'revocation', 'constraints',
  'kernel-libipsec', 'kernel-netlink', 'socket-default', 'vici',
] as const

/** The plugins of an instance: with kernel ESP, kernel-netlink is the IPsec backend, so libipsec stays out. */
export function charonPlugins(ipsec: CharonInstance['ipsec'] = 'libipsec'): readonly string[] {
  return ipsec === 'libipsec' ? CHARON_PLUGINS : CHARON_PLUGINS.filter(p => p !== 'kernel-libipsec')
}

export function renderStrongswanConf(instance: CharonInstance): string {
  const logLevel = instance.logLevel ?? 1
  return [
    `# Generated for charon instance "${instance.name}"; rewritten on every start.`,
    // charon-systemd reads the "charon-systemd" section and falls back to "charon"; its journal logger
    // would only duplicate what the stderr filelog gives us.
    'charon-systemd {',
    '  journal {',
    '    default = -1',
    '  }',
    '}',
    'charon {',
    `  load = ${charonPlugins(instance.ipsec).join(' ')}`,
    `  port = ${instance.ikePort}`,
    `  port_nat_t = ${instance.natTPort}`,
    `  install_routes = ${instance.installRoutes ? 'yes' : 'no'}`,
    `  routing_table = ${instance.routingTable}`,
    `  routing_table_prio = ${instance.routingTablePrio}`,
    // IPsec virtual IPs are not used; keep charon from adding addresses we do not own.
    '  install_virtual_ip = no',
    ...(instance.retransmit
      ? [`  retransmit_tries = ${instance.retransmit.tries}`, `  retransmit_timeout = ${instance.retransmit.timeoutS}`, `  retransmit_base = ${instance.retransmit.base}`]
      : []),
    '  filelog {',
    '    stderr {',
    `      default = ${logLevel}`,
    '      ike_name = yes',
    '    }',
    '  }',
    '  plugins {',
    '    vici {',
    `      socket = unix://${instance.viciSocketPath}`,
    '    }',
    ...(instance.routeRuleFwmark ? ['    kernel-netlink {', `      fwmark = ${instance.routeRuleFwmark}`, '    }'] : []),
    ...(instance.socketFwmark !== undefined ? ['    socket-default {', `      fwmark = 0x${instance.socketFwmark.toString(16)}`, '    }'] : []),
    '  }',
    '}',
    '',
  ].join('\n')
}
