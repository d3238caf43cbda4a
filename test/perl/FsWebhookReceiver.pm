# FsWebhookReceiver: the loopback HTTP receiver of the worker's TAP tests
# (bench/webhooks/receiver.pl, a real server on 127.0.0.1) and the file it
# writes.  test/run puts test/perl on prove's include path.
package FsWebhookReceiver;

use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_receiver read_requests write_control);

# start the receiver on $port, appending one JSON line per request to $out
# and answering as the control file $ctl says (when given); returns its pid
# once it accepts connections
sub start_receiver
{
	my ($port, $out, $ctl) = @_;
	my $receiver = ($ENV{TESTDIR} // '.') . '/bench/webhooks/receiver.pl';
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		exec($^X, $receiver, $port, $out, defined $ctl ? ($ctl) : ()) or die "exec: $!";
	}
	for (1 .. 100)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
		if ($s) { close $s; return $pid; }
		usleep(100_000);
	}
	die "receiver did not start";
}

# the requests received so far, whole lines only (the last may be half written)
sub read_requests
{
	my ($out) = @_;
	return () unless -e $out;
	open(my $f, '<', $out) or die;
	my @r = map { decode_json($_) } grep { /\n$/ } <$f>;
	close $f;
	return @r;
}

# tell the receiver how to answer from now on (e.g. "503", "hang", "200 delay=400")
sub write_control
{
	my ($ctl, $what) = @_;
	open(my $f, '>', $ctl) or die;
	print $f "$what\n";
	close $f;
}

1;
