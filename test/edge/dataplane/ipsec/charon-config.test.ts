import t from 'tap'
import { CHARON_PLUGINS, charonPlugins, renderStrongswanConf } from '../../../../edge/dataplane/ipsec/charon-config.js'

t.test('renders a per-instance strongswan.conf', async t => {
  const conf = renderStrongswanConf({
    name: 'wan2',
    ipsec: 'libipsec',
    confPath: '/run/sdwan/wan2.conf',
    viciSocketPath: '/run/sdwan/wan2.vici',
    ikePort: 14510,
    natTPort: 14511,
    routingTable: 1102,
    routingTablePrio: 1102,
    installRoutes: false,
    logLevel: 2,
  })
  t.equal(
    conf,
    [
      '# Generated for charon instance "wan2"; rewritten on every start.',
      'charon-systemd {',
      '  journal {',
      '    default = -1',
      '  }',
      '}',
      'charon {',
      '  load = random nonce aes sha1 sha2 hmac kdf gmp curve25519 pem pkcs1 pkcs8 x509 pubkey revocation constraints kernel-libipsec kernel-netlink socket-default vici',
      '  port = 14510',
      '  port_nat_t = 14511',
      '  install_routes = no',
      '  routing_table = 1102',
      '  routing_table_prio = 1102',
      '  install_virtual_ip = no',
      '  filelog {',
      '    stderr {',
      '      default = 2',
      '      ike_name = yes',
      '    }',
      '  }',
      '  plugins {',
      '    vici {',
      '      socket = unix:///run/sdwan/wan2.vici',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
})

t.test('fwmarks for the route rule and the IKE socket go to kernel-netlink and socket-default', async t => {
  const conf = renderStrongswanConf({
    name: 'lte',
    ipsec: 'libipsec',
    confPath: '/c',
    viciSocketPath: '/v',
    ikePort: 1,
    natTPort: 2,
    routingTable: 3,
    routingTablePrio: 3,
    installRoutes: true,
    routeRuleFwmark: '0x100/0xff00',
    socketFwmark: 0x200,
  })
  t.match(conf, '      socket = unix:///v\n    }\n    kernel-netlink {\n      fwmark = 0x100/0xff00\n    }\n    socket-default {\n      fwmark = 0x200\n    }\n  }\n}\n')
})

t.test('the plugin list names libipsec before netlink and includes vici', async t => {
  t.ok(CHARON_PLUGINS.indexOf('kernel-libipsec') < CHARON_PLUGINS.indexOf('kernel-netlink'))
  t.ok(CHARON_PLUGINS.includes('vici'))
})

t.test('kernel ESP: kernel-netlink is the IPsec backend, so libipsec is not loaded; everything else is', async t => {
  t.same(charonPlugins('libipsec'), CHARON_PLUGINS)
  t.same(charonPlugins('kernel'), CHARON_PLUGINS.filter(p => p !== 'kernel-libipsec'))
  const conf = renderStrongswanConf({ name: 'k', ipsec: 'kernel', confPath: '/c', viciSocketPath: '/v', ikePort: 1, natTPort: 2, routingTable: 3, routingTablePrio: 3, installRoutes: false })
  t.match(conf, /\n  load = random nonce .* constraints kernel-netlink socket-default vici\n/)
  t.notMatch(conf, /libipsec/)
})
