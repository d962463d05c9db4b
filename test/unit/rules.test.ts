// Exact rule text per network and per port, and the iptables-restore transaction builder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FwModel } from '../../src/firewall/firewall.js';
import {
  complete,
  diffRuleset,
  filterRules,
  natRules,
  parsePresent,
  ruleset,
} from '../../src/firewall/iptables/rules.js';
import { model, web } from '../helpers/fw-model.js';

describe('firewall rules', () => {
  it('filter: per network and per port, in order', () => {
    assert.deepEqual(filterRules(model), [
      '-A NETCTL-PORTS -d 10.1.0.5/32 -o nc-aaaaaaaaaaaa -p tcp -m tcp --dport 80 -m conntrack --ctstate ' +
        'DNAT -j ACCEPT -m comment --comment netctl:cccccccccccc',
      '-A NETCTL-FORWARD -o nc-aaaaaaaaaaaa -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT -m comment ' +
        '--comment netctl:aaaaaaaaaaaa',
      '-A NETCTL-FORWARD -i nc-aaaaaaaaaaaa -o nc-aaaaaaaaaaaa -j ACCEPT -m comment --comment netctl:aaaaaaaaaaaa',
      '-A NETCTL-FORWARD -i nc-aaaaaaaaaaaa ! -o nc-aaaaaaaaaaaa -j ACCEPT -m comment --comment netctl:aaaaaaaaaaaa',
      '-A NETCTL-FORWARD -o nc-aaaaaaaaaaaa -j DROP -m comment --comment netctl:aaaaaaaaaaaa',
      '-A NETCTL-ISOLATION-1 -i nc-aaaaaaaaaaaa ! -o nc-aaaaaaaaaaaa -j NETCTL-ISOLATION-2 -m comment ' +
        '--comment netctl:aaaaaaaaaaaa',
      '-A NETCTL-ISOLATION-2 -o nc-aaaaaaaaaaaa -j DROP -m comment --comment netctl:aaaaaaaaaaaa',
      '-A NETCTL-FORWARD -o br-db -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT -m comment --comment ' +
        'netctl:bbbbbbbbbbbb',
      '-A NETCTL-FORWARD -i br-db -o br-db -j DROP -m comment --comment netctl:bbbbbbbbbbbb',
      '-A NETCTL-FORWARD -i br-db ! -o br-db -j DROP -m comment --comment netctl:bbbbbbbbbbbb',
      '-A NETCTL-FORWARD -o br-db -j DROP -m comment --comment netctl:bbbbbbbbbbbb',
      '-A NETCTL-ISOLATION-1 -i br-db ! -o br-db -j NETCTL-ISOLATION-2 -m comment --comment netctl:bbbbbbbbbbbb',
      '-A NETCTL-ISOLATION-2 -o br-db -j DROP -m comment --comment netctl:bbbbbbbbbbbb',
    ]);
  });

  it('nat: masquerade per subnet (not for internal networks), DNAT and hairpin per port', () => {
    assert.deepEqual(natRules(model), [
      '-A NETCTL-POSTROUTING -s 10.1.0.0/24 ! -o nc-aaaaaaaaaaaa -j MASQUERADE -m comment --comment ' +
        'netctl:aaaaaaaaaaaa',
      '-A NETCTL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.5:80 -m comment --comment ' +
        'netctl:cccccccccccc',
      '-A NETCTL-POSTROUTING -s 10.1.0.5/32 -d 10.1.0.5/32 -p tcp -m tcp --dport 80 -j MASQUERADE -m comment ' +
        '--comment netctl:cccccccccccc',
    ]);
    const bound = natRules({
      networks: [{ ...web, masquerade: false }],
      ports: [{ ...model.ports[0]!, hostIP: '192.0.2.1', proto: 'udp' }],
    });
    assert.deepEqual(bound, [
      '-A NETCTL -d 192.0.2.1/32 -p udp -m udp --dport 8080 -j DNAT --to-destination 10.1.0.5:80 -m comment ' +
        '--comment netctl:cccccccccccc',
      '-A NETCTL-POSTROUTING -s 10.1.0.5/32 -d 10.1.0.5/32 -p udp -m udp --dport 80 -j MASQUERADE -m comment ' +
        '--comment netctl:cccccccccccc',
    ]);
  });

  it('the transaction declares only netctl chains, adds missing jumps once, never rewrites NETCTL-USER', () => {
    const first = ruleset({ networks: [], ports: [] }, { userChain: false, jumps: new Set(), chains: new Set() });
    assert.equal(
      first,
      [
        '*filter',
        ':NETCTL-FORWARD - [0:0]',
        ':NETCTL-ISOLATION-1 - [0:0]',
        ':NETCTL-ISOLATION-2 - [0:0]',
        ':NETCTL-PORTS - [0:0]',
        ':NETCTL-INPUT - [0:0]',
        ':NETCTL-USER - [0:0]',
        '-A NETCTL-USER -j RETURN -m comment --comment netctl:base',
        '-I FORWARD 1 -j NETCTL-FORWARD -m comment --comment netctl:base',
        '-I INPUT 1 -j NETCTL-INPUT -m comment --comment netctl:base',
        '-A NETCTL-FORWARD -j NETCTL-USER -m comment --comment netctl:base',
        '-A NETCTL-FORWARD -j NETCTL-ISOLATION-1 -m comment --comment netctl:base',
        '-A NETCTL-FORWARD -j NETCTL-PORTS -m comment --comment netctl:base',
        'COMMIT',
        '*nat',
        ':NETCTL - [0:0]',
        ':NETCTL-POSTROUTING - [0:0]',
        '-I PREROUTING 1 -m addrtype --dst-type LOCAL -j NETCTL -m comment --comment netctl:base',
        '-I OUTPUT 1 ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j NETCTL -m comment --comment netctl:base',
        '-I POSTROUTING 1 -j NETCTL-POSTROUTING -m comment --comment netctl:base',
        'COMMIT',
        '',
      ].join('\n'),
    );
    const save = [
      '*filter',
      ':FORWARD DROP [0:0]',
      ':NETCTL-USER - [0:0]',
      ':ADMIN - [0:0]',
      '-A FORWARD -m comment --comment "netctl:base" -j NETCTL-FORWARD',
      '-A NETCTL-USER -s 198.51.100.0/24 -j DROP',
      'COMMIT',
      '*nat',
      '-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "netctl:base" -j NETCTL',
      '-A POSTROUTING -j NETCTL-POSTROUTING-FOREIGN',
      'COMMIT',
    ].join('\n');
    const present = parsePresent(save);
    assert.deepEqual([...present.jumps].sort(), ['filter FORWARD', 'nat PREROUTING']);
    assert.equal(present.userChain, true);
    const again = ruleset({ networks: [], ports: [] }, present);
    assert.doesNotMatch(again, /NETCTL-USER - \[0:0\]|-I FORWARD|-I PREROUTING|ADMIN|FORWARD DROP/);
    assert.match(again, /-I OUTPUT 1 .*-j NETCTL /);
    assert.match(again, /-I POSTROUTING 1 -j NETCTL-POSTROUTING /);
    assert.equal(complete(present), false, 'missing jumps and chains: no difference can be applied');
    const full = parsePresent(
      save
        .replace(
          ':ADMIN',
          ':NETCTL-FORWARD - [0:0]\n:NETCTL-ISOLATION-1 - [0:0]\n:NETCTL-ISOLATION-2 - [0:0]\n' +
            ':NETCTL-PORTS - [0:0]\n:NETCTL-INPUT - [0:0]\n-A INPUT -j NETCTL-INPUT\n:ADMIN',
        )
        .replace(
          '*nat',
          '*nat\n:NETCTL - [0:0]\n:NETCTL-POSTROUTING - [0:0]\n-A OUTPUT -j NETCTL\n' +
            '-A POSTROUTING -j NETCTL-POSTROUTING',
        ),
    );
    assert.equal(complete(full), true);
  });

  it('a change is written as its difference: deletions, then additions, nothing else', () => {
    const empty: FwModel = { networks: [], ports: [] };
    assert.equal(diffRuleset(model, model), null);
    const added = diffRuleset(empty, { networks: [web], ports: [] }) ?? '';
    assert.doesNotMatch(added, /^:|-D |-F |-X /m, 'append-only: no chain declared, nothing deleted');
    assert.equal(added.split('\n').filter((l) => l.startsWith('-A ')).length, 7, '6 filter rules and the MASQUERADE');
    const moved = diffRuleset(model, { ...model, ports: [{ ...model.ports[0]!, containerIP: '10.1.0.9' }] }) ?? '';
    assert.deepEqual(
      moved
        .split('\n')
        .filter((l) => /^-[AD] /.test(l))
        .map((l) => l.slice(0, 2) + ' ' + (/10\.1\.0\.\d+/.exec(l)?.[0] ?? '')),
      ['-D 10.1.0.5', '-A 10.1.0.9', '-D 10.1.0.5', '-D 10.1.0.5', '-A 10.1.0.9', '-A 10.1.0.9'],
    );
  });

  it('a network whose rules change has all of them written again, in order (its DROP stays last)', () => {
    const quiet = { ...web, icc: false };
    const diff = diffRuleset({ networks: [quiet], ports: [] }, { networks: [web], ports: [] }) ?? '';
    const lines = diff.split('\n');
    const dels = lines.filter((l) => l.startsWith('-D NETCTL-FORWARD') || l.startsWith('-D NETCTL-ISOLATION'));
    const adds = lines.filter((l) => l.startsWith('-A NETCTL-FORWARD') || l.startsWith('-A NETCTL-ISOLATION'));
    assert.equal(dels.length, 6, 'every filter rule of the network deleted');
    assert.deepEqual(adds, filterRules({ networks: [web], ports: [] }), 'and appended again in the generated order');
    const icc = adds.findIndex((l) => / -i nc-\S+ -o nc-\S+ -j ACCEPT /.test(l));
    const drop = adds.findIndex((l) => /^-A NETCTL-FORWARD -o nc-\S+ -j DROP /.test(l));
    assert.ok(icc >= 0 && icc < drop, 'the ICC ACCEPT comes before the catch-all DROP');
    assert.doesNotMatch(diff, /\*nat/, 'the unchanged NAT rules are not touched');
  });
});
