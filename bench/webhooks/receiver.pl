#!/usr/bin/perl
# receiver.pl: a small HTTP/1.1 webhook receiver on loopback for the TAP tests
# and the benchmark.  Core Perl only (IO::Socket::INET, IO::Select, JSON::PP).
#
#   receiver.pl PORT OUT [CONTROL]
#
# Appends one JSON line per request to OUT: receive time (epoch seconds, float),
# method, path, the X-Firstsight-* and Idempotency-Key headers, and the body.
# CONTROL, when given and present, holds what to answer: a status code such as
# 200 or 503, or "hang" (read the request, never answer), optionally followed
# by " delay=MS" (answer after MS milliseconds).  Keeps connections alive.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use IO::Handle;
use JSON::PP;
use Time::HiRes qw(time usleep);

my ($port, $out, $control) = @ARGV;
die "usage: receiver.pl PORT OUT [CONTROL]\n" unless $port && $out;

my $listen = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
	Listen => 64, ReuseAddr => 1) or die "listen on 127.0.0.1:$port: $!\n";
open(my $log, '>>', $out) or die "open $out: $!\n";
$log->autoflush(1);
my $json = JSON::PP->new->canonical;
my $sel = IO::Select->new($listen);
my %buf;
my %hung;

# what to answer now
sub mode
{
	my ($status, $delay) = (200, 0);
	if ($control && open(my $c, '<', $control))
	{
		my $line = <$c> // '';
		close $c;
		$status = $1 if $line =~ /^\s*(\d{3}|hang)/;
		$delay = $1 if $line =~ /delay=(\d+)/;
	}
	return ($status, $delay);
}

# handle every complete request in a connection's buffer
sub serve
{
	my ($s) = @_;
	while ($buf{$s} =~ /\r\n\r\n/)
	{
		my $end = index($buf{$s}, "\r\n\r\n");
		my $head = substr($buf{$s}, 0, $end);
		my ($reqline, @lines) = split /\r\n/, $head;
		my %h;
		for (@lines) { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/; }
		my $len = $h{'content-length'} // 0;
		return if length($buf{$s}) < $end + 4 + $len;
		my $body = substr($buf{$s}, $end + 4, $len);
		$buf{$s} = substr($buf{$s}, $end + 4 + $len);
		my ($method, $path) = split / /, $reqline;
		my ($status, $delay) = mode();
		print $log $json->encode({
			t => time, method => $method, path => $path,
			signature => $h{'x-firstsight-signature'}, event => $h{'x-firstsight-event'},
			key => $h{'idempotency-key'}, attempt => $h{'x-firstsight-delivery-attempt'},
			content_type => $h{'content-type'}, status => $status, body => $body }), "\n";
		if ($status eq 'hang')
		{
			$hung{$s} = 1;
			return;
		}
		usleep($delay * 1000) if $delay;
		my $text = $status == 200 ? 'OK' : 'Error';
		syswrite($s, "HTTP/1.1 $status $text\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok");
	}
}

while (1)
{
	for my $s ($sel->can_read(1))
	{
		if ($s == $listen)
		{
			my $c = $listen->accept or next;
			$buf{$c} = '';
			$sel->add($c);
			next;
		}
		my $n = sysread($s, my $chunk, 65536);
		if (!$n)
		{
			$sel->remove($s);
			delete $buf{$s};
			delete $hung{$s};
			close $s;
			next;
		}
		next if $hung{$s};
		$buf{$s} .= $chunk;
		serve($s);
	}
}
