# FsNewPerson: the set-up of the new-person TAP tests (202, 203).  test/run
# puts test/perl on prove's include path.
package FsNewPerson;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(new_person_node);

# a started node named $name, firstsight preloaded (the pending faces live in
# shared memory) and $conf appended to postgresql.conf; project 1 (4
# dimensions) with cameras cam0..cam2 and one known person, face [1,0,0,0]
sub new_person_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "fsync = off\nshared_preload_libraries = 'firstsight'\n" . ($conf // ''));
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION firstsight;
		SELECT firstsight.create_project('new persons', dims => 4);
		INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 2) i;
		-- one known person
		INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
		VALUES (1, 'cam0', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false);
	});
	return $node;
}

1;
