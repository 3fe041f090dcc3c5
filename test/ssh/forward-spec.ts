// Forwards as ssh reads them: -L/-R/-D arguments by OpenSSH's parse_forward()
// rules, and `ssh -G`'s lines; both give the same key for the same forward.
import t from 'tap'
import { forwardKey, parseForwardArg, parseGForward, showEnd, type ForwardSpec } from '../../src/ssh/forward-spec.js'

t.test('the ends as ssh shows them', async t => {
  t.equal(showEnd({ port: 22883 }), '22883')
  t.equal(showEnd({ host: '127.0.0.1', port: 22883 }), '127.0.0.1:22883')
  t.equal(showEnd({ host: '::1', port: 8080 }), '[::1]:8080')
  t.equal(showEnd({ host: '', port: 4444 }), ':4444', 'an empty bind address: every interface')
  t.equal(showEnd({ path: '/run/x.sock' }), '/run/x.sock')
})

t.test('command-line arguments', async t => {
  const cases: [ForwardSpec['kind'], string, ForwardSpec | undefined][] = [
    ['local', '22883:localhost:1883', { kind: 'local', listen: { port: 22883 }, target: { host: 'localhost', port: 1883 } }],
    ['local', '127.0.0.1:22884:localhost:1884', { kind: 'local', listen: { host: '127.0.0.1', port: 22884 }, target: { host: 'localhost', port: 1884 } }],
    ['local', '[::1]:8080:[::2]:80', { kind: 'local', listen: { host: '::1', port: 8080 }, target: { host: '::2', port: 80 } }],
    ['local', ':4444:h:4', { kind: 'local', listen: { host: '', port: 4444 }, target: { host: 'h', port: 4 } }],
    ['local', '*:9001:host:9', { kind: 'local', listen: { host: '*', port: 9001 }, target: { host: 'host', port: 9 } }],
    ['local', '/tmp/l.sock:/tmp/r.sock', { kind: 'local', listen: { path: '/tmp/l.sock' }, target: { path: '/tmp/r.sock' } }],
    ['local', '9000:/tmp/r2.sock', { kind: 'local', listen: { port: 9000 }, target: { path: '/tmp/r2.sock' } }],
    ['local', '127.0.0.1:9000:/tmp/r2.sock', { kind: 'local', listen: { host: '127.0.0.1', port: 9000 }, target: { path: '/tmp/r2.sock' } }],
    ['local', '/tmp/l.sock:h:80', { kind: 'local', listen: { path: '/tmp/l.sock' }, target: { host: 'h', port: 80 } }],
    ['local', '  8080:h:80', { kind: 'local', listen: { port: 8080 }, target: { host: 'h', port: 80 } }],
    // '\' escapes, as in parse_fwd_field()
    ['local', '8080:a\\:b:80', { kind: 'local', listen: { port: 8080 }, target: { host: 'a:b', port: 80 } }],
    ['local', '[/tmp/x:y]:h:80', { kind: 'local', listen: { path: '/tmp/x:y' }, target: { host: 'h', port: 80 } }],
    ['remote', '0:localhost:22', { kind: 'remote', listen: { port: 0 }, target: { host: 'localhost', port: 22 } }],
    ['remote', '8080', { kind: 'remote', listen: { port: 8080 } }],
    ['remote', '127.0.0.1:8080', { kind: 'remote', listen: { host: '127.0.0.1', port: 8080 } }],
    ['remote', '/tmp/rr.sock:localhost:82', { kind: 'remote', listen: { path: '/tmp/rr.sock' }, target: { host: 'localhost', port: 82 } }],
    ['dynamic', '1080', { kind: 'dynamic', listen: { port: 1080 } }],
    ['dynamic', '[::1]:1082', { kind: 'dynamic', listen: { host: '::1', port: 1082 } }],
    ['dynamic', '/tmp/socks.sock', { kind: 'dynamic', listen: { path: '/tmp/socks.sock' } }],
    // what ssh refuses
    ['local', '8080', undefined],
    ['local', '8080:h', undefined],
    ['dynamic', '8080:h:80', undefined],
    ['dynamic', '9000:/tmp/x', undefined],
    ['local', 'x:h:80', undefined],
    ['local', '70000:h:80', undefined],
    ['local', '8080:h:port', undefined],
    ['local', '1:2:3:4:5', undefined],
    ['local', '[::1:8080:h:80', undefined],
    ['local', '[::1]x:8080:h:80', undefined],
    ['local', '', undefined],
    ['local', '8080:h:80\\', undefined],
  ]
  for (const [kind, arg, want] of cases) t.same(parseForwardArg(kind, arg), want, `${kind} ${arg}`)
})

t.test("ssh -G's lines", async t => {
  const cases: [ForwardSpec['kind'], string, ForwardSpec | undefined][] = [
    ['local', '22883 [localhost]:1883', { kind: 'local', listen: { port: 22883 }, target: { host: 'localhost', port: 1883 } }],
    ['local', '[::1]:8080 [::1]:80', { kind: 'local', listen: { host: '::1', port: 8080 }, target: { host: '::1', port: 80 } }],
    ['local', '[]:4444 [h]:4', { kind: 'local', listen: { host: '', port: 4444 }, target: { host: 'h', port: 4 } }],
    ['local', '/tmp/l.sock /tmp/r.sock', { kind: 'local', listen: { path: '/tmp/l.sock' }, target: { path: '/tmp/r.sock' } }],
    ['remote', '8080 [socks]:0', { kind: 'remote', listen: { port: 8080 } }],
    ['remote', '0 [localhost]:22', { kind: 'remote', listen: { port: 0 }, target: { host: 'localhost', port: 22 } }],
    ['dynamic', '[127.0.0.1]:1081', { kind: 'dynamic', listen: { host: '127.0.0.1', port: 1081 } }],
    ['dynamic', '1080 [h]:1', undefined],
    ['local', '22883', undefined],
    ['local', '22883 [h]:1 extra', undefined],
    ['local', '[h]:99999 [h]:1', undefined],
    ['local', '1 [h]:99999', undefined],
  ]
  for (const [kind, words, want] of cases) t.same(parseGForward(kind, words), want, `${kind} ${words}`)
})

t.test('the same forward, the same key, however written', async t => {
  const pairs: [ForwardSpec['kind'], string, string][] = [
    ['local', '22883:localhost:1883', '22883 [localhost]:1883'],
    ['local', '[::1]:8080:[::1]:80', '[::1]:8080 [::1]:80'],
    ['local', ':4444:h:4', '[]:4444 [h]:4'],
    ['remote', '8080', '8080 [socks]:0'],
    ['dynamic', '127.0.0.1:1081', '[127.0.0.1]:1081'],
  ]
  for (const [kind, arg, g] of pairs) t.equal(forwardKey(parseForwardArg(kind, arg)!), forwardKey(parseGForward(kind, g)!), arg)
  t.not(forwardKey(parseForwardArg('local', '1:h:2')!), forwardKey(parseForwardArg('local', '1:h:3')!))
  t.not(forwardKey(parseForwardArg('local', '1:/a')!), forwardKey(parseForwardArg('remote', '1:/a')!))
})
