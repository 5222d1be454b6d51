# The dataspace the replication tests share: a hub with one participant
# role per node, nodes that sync with it quickly, a provider that serves
# TLS with a self-signed certificate, and the provider's export logins for
# its consumers (TLS only, as docs/replication.md sets them up), the
# hub's approval of every node and a contract agreed through the hub.
package ReplicationSetup;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(new_hub new_node tls_settings export_logins approve_all agree_contract public_asset
  two_nodes provider_and_consumer);

# new_hub(@node_names): a started hub with a participant role node_NAME for
# each name; returns the hub and its public key in hex.
sub new_hub
{
	my @names = @_;
	my $hub = PostgreSQL::Test::Cluster->new('hub');
	$hub->init;
	$hub->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_dataspace'
dataspace.mode = 'hub'
dataspace.database = 'postgres'
dataspace.node_name = 'hub'
});
	$hub->start;
	$hub->safe_psql('postgres', join('',
			"CREATE EXTENSION pg_dataspace;\n",
			map { "CREATE ROLE node_$_ LOGIN IN ROLE dataspace_participant;\n" } @names));
	my $key = $hub->safe_psql('postgres',
		q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()});
	return ($hub, $key);
}

# new_node($hub, $hub_key, $name, $extra): a started node with the
# extension, registered at the hub as role node_NAME; $extra is appended
# to its postgresql.conf.
sub new_node
{
	my ($hub, $hub_key, $name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $conninfo = 'host=' . $hub->host . ' port=' . $hub->port . " dbname=postgres user=node_$name";
	my $port = $node->port;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'postgres'
dataspace.node_name = '$name'
dataspace.hub = '$conninfo'
dataspace.hub_public_key = '$hub_key'
dataspace.sync_interval = '300ms'
dataspace.sealer_naptime = '200ms'
dataspace.replication_naptime = '500ms'
dataspace.endpoint = 'hostaddr=127.0.0.1 port=$port dbname=postgres'
$extra
});
	$node->start;
	$node->safe_psql('postgres', q{CREATE EXTENSION pg_dataspace});
	return $node;
}

# tls_settings($dir): make a self-signed certificate in $dir and return the
# settings that make a provider serve TLS with it on 127.0.0.1.
sub tls_settings
{
	my $dir = shift;
	system_or_bail('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
		'-subj', '/CN=127.0.0.1', '-keyout', "$dir/server.key", '-out', "$dir/server.crt");
	chmod 0600, "$dir/server.key";
	return qq{
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
};
}

# export_logins($provider, $provider_id, $dir, [$name, $node], ...): the
# provider's export role for each consumer (export_NAME, password
# secret-NAME, TLS only from 127.0.0.1), and each consumer's login for the
# provider in a password file in $dir.  The first consumer's login also
# gets the statement and idle-in-transaction timeouts.
sub export_logins
{
	my ($provider, $provider_id, $dir, @consumers) = @_;
	my $hba = slurp_file($provider->data_dir . '/pg_hba.conf');
	open my $fh, '>', $provider->data_dir . '/pg_hba.conf' or die;
	print $fh "hostssl postgres +dataspace_export 127.0.0.1/32 scram-sha-256\n";
	print $fh "host all +dataspace_export 0.0.0.0/0 reject\n";
	print $fh "local all +dataspace_export reject\n";
	print $fh $hba;
	close $fh;
	my $first = $consumers[0][0];
	$provider->safe_psql('postgres', join('',
			"SET password_encryption = 'scram-sha-256';\n",
			map({ "CREATE ROLE export_$_->[0] LOGIN PASSWORD 'secret-$_->[0]' IN ROLE dataspace_export CONNECTION LIMIT 4;\n" }
				@consumers),
			"ALTER ROLE export_$first SET statement_timeout = '60s';\n",
			"ALTER ROLE export_$first SET idle_in_transaction_session_timeout = '10s';\n",
			"REVOKE TEMPORARY ON DATABASE postgres FROM PUBLIC;\n"));
	$provider->reload;
	for my $n (@consumers)
	{
		my $pass = "$dir/$n->[0].pgpass";
		open my $pf, '>', $pass or die;
		print $pf "*:*:*:export_$n->[0]:secret-$n->[0]\n";
		close $pf;
		chmod 0600, $pass;
		$n->[1]->safe_psql('postgres', qq{
INSERT INTO dataspace.provider_login VALUES ('$provider_id', 'user=export_$n->[0] passfile=$pass')});
	}
	return;
}

# approve_all($hub, @nodes): wait for every node to register, approve them
# all, and wait until each node caches them all as approved.
sub approve_all
{
	my ($hub, @nodes) = @_;
	my $n = scalar @nodes;
	ok($hub->poll_query_until('postgres', "SELECT count(*) = $n FROM dataspace.participant"),
		"$n nodes registered");
	$hub->safe_psql('postgres', 'SELECT dataspace.approve_participant(node_id) FROM dataspace.participant');
	for my $node (@nodes)
	{
		ok($node->poll_query_until('postgres',
				"SELECT count(*) = $n FROM dataspace.participant WHERE status = 'approved'"),
			$node->name . ' caches the approved participants');
	}
	return;
}

# two_nodes($a_extra): a hub and two nodes a and b, both approved, a with
# $a_extra appended to its configuration (new_node); returns ($hub, $a,
# $b, { a => a's node id, b => b's }).
sub two_nodes
{
	my ($a_extra) = @_;
	my ($hub, $hub_key) = new_hub('a', 'b');
	my $a = new_node($hub, $hub_key, 'a', $a_extra // '');
	my $b = new_node($hub, $hub_key, 'b', '');
	approve_all($hub, $a, $b);
	my %id = map { $_->name => $_->safe_psql('postgres', 'SELECT node_id FROM dataspace.node_info()') }
	  ($a, $b);
	return ($hub, $a, $b, \%id);
}

# provider_and_consumer($tmp): two_nodes, a serving TLS with files in $tmp
# as the provider and b with its export login at a as the consumer.
sub provider_and_consumer
{
	my ($tmp) = @_;
	my ($hub, $a, $b, $id) = two_nodes(tls_settings($tmp));
	export_logins($a, $id->{a}, $tmp, [ 'b', $b ]);
	return ($hub, $a, $b, $id);
}

# public_asset($provider, $consumer, $twin, $asset): a twin named press and
# a public stream asset named temperature on the provider, with the given
# ids; returns once the consumer finds the asset in its cached catalog.
sub public_asset
{
	my ($provider, $consumer, $twin, $asset) = @_;
	$provider->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility)
VALUES ('$asset', '$twin', 'temperature', 'stream', 'public');
});
	ok($consumer->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '$asset'"),
		'the asset is in the catalog');
	return;
}

# agree_contract($consumer, $provider, $provider_id, $assets, $policy): the
# consumer requests a contract on the assets (a comma-separated list of
# ids) under the policy (JSON text) for a year, the provider accepts, and
# the contract becomes active at the consumer; returns its id.
sub agree_contract
{
	my ($consumer, $provider, $provider_id, $assets, $policy) = @_;
	my $k = $consumer->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$provider_id', '{$assets}', '$policy', now() + interval '1 year')});
	ok($provider->poll_query_until('postgres', qq{SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k'}),
		'the request reaches the provider');
	is($provider->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k')}), 'AGREED',
		'the provider accepts');
	ok($consumer->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k'}),
		'the contract is active at the consumer');
	return $k;
}

1;
