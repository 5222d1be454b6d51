# A node cluster starts with the library preloaded and the extension loads.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_dataspace'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_dataspace');
is($node->safe_psql('postgres', 'SHOW dataspace.mode'), 'node', 'default mode is node');
$node->stop;
done_testing();
