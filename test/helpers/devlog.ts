// A system log of a test's own: a receiver of syslog datagrams, and a mount
// namespace whose /dev/log is one, for programs that write to /dev/log
// (autossh 1.4g, and ours when AUTOSSH_SYSLOG_SOCKET is not set).

/** a syslog receiver: each datagram, then a NUL; on SIGTERM it takes what is still queued and exits */
export const RECEIVER = `
use IO::Socket::UNIX; use IO::Select;
my ($path, $out) = @ARGV;
my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path) or die "$path: $!";
open(my $f, ">>", $out) or die "$out: $!";
$f->autoflush(1);
my $stop = 0;
$SIG{TERM} = sub { $stop = 1 };
open(my $ready, ">", "$out.ready") or die; close $ready;
my $sel = IO::Select->new($s);
my $d;
# ends with its parent too: nothing a test starts outlives it
my $parent = getppid();
until ($stop || getppid() != $parent) { if ($sel->can_read(0.05)) { $s->recv($d, 65536); print $f $d, "\\0" } }
while ($sel->can_read(0.02)) { $s->recv($d, 65536); print $f $d, "\\0" }
`

/**
 * sh -c IN_NAMESPACE sh OUT PROGRAM ARGS...: under `unshare -m`, a /dev of
 * its own whose log socket is a receiver writing to OUT, then the program in
 * a session of its own (pid in OUT.pid); exits with the program's status
 */
export const IN_NAMESPACE = `
out=$1; shift
mount -t tmpfs -o mode=755 none /dev || exit 125
mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 &&
  mknod -m 666 /dev/random c 1 8 && mknod -m 666 /dev/urandom c 1 9 || exit 125
perl -e "$RECEIVER" /dev/log "$out" & r=$!
while [ ! -e "$out.ready" ]; do sleep 0.01; done
setsid -w sh -c 'echo $$ > "$0.pid"; exec "$@"' "$out" "$@"; rc=$?
kill $r; wait $r
exit $rc
`
