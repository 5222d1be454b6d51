# Crossing contract steps: both parties act on one contract at about the
# same time, the hub keeps the step that reaches it first, and the node
# whose step lost reconciles: it supersedes its own step (kept, never
# sent), follows the hub's order, records it in its audit log, and takes
# an ending step again when the table still allows it.  The crossing is
# made deterministic by keeping one node away from the hub (its login
# refused, its connection ended) while both act, until the other node's
# step is at the hub.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReplicationSetup;

my ($hub, $hub_key) = new_hub('a', 'b');
my $a = new_node($hub, $hub_key, 'a', '');
my $b = new_node($hub, $hub_key, 'b', '');
my %node = (a => $a, b => $b);
my %id = map { $_ => $node{$_}->safe_psql('postgres', 'SELECT dataspace.node_id()') } keys %node;

ok($hub->poll_query_until('postgres', q{SELECT count(*) = 2 FROM dataspace.participant}),
	'two nodes registered');
$hub->safe_psql('postgres', 'SELECT dataspace.approve_participant(node_id) FROM dataspace.participant');

my $asset = '00000000-0000-4000-8000-0000000014a1';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000014a0', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '00000000-0000-4000-8000-0000000014a0', 'temperature', 'stream', 'public');
});
ok($b->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM dataspace.hub_catalog WHERE asset_id = '$asset') = 1
   AND (SELECT count(*) FROM dataspace.participant WHERE status = 'approved') = 2}),
	'node b caches the catalog and the participants');
ok($a->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM dataspace.participant WHERE status = 'approved'}),
	'node a caches the participants');

# Keep a node away from the hub: its role may not log in, and the
# connection its worker keeps between rounds is ended.
sub hold
{
	my $name = shift;
	$hub->safe_psql('postgres', qq{
ALTER ROLE node_$name NOLOGIN;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'node_$name';
});
	ok($hub->poll_query_until('postgres', qq{
SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'node_$name'}),
		"node $name is kept away from the hub");
}

sub release
{
	my $name = shift;
	$hub->safe_psql('postgres', "ALTER ROLE node_$name LOGIN");
}

# The chain of steps in force, as the hub and both nodes hold it.
sub chain
{
	my ($n, $k) = @_;
	return $n->safe_psql('postgres', qq{
SELECT string_agg(step_no || ':' || step || ':' || encode(step_hash, 'hex'), ',' ORDER BY step_no)
  FROM dataspace.contract_step WHERE contract_id = '$k' AND superseded_at IS NULL});
}

# Wait until the hub and both nodes hold the contract in $state after the
# steps @steps, with nothing left in either outbox; then the three chains
# must be one.
sub converge
{
	my ($k, $state, $what, @steps) = @_;
	my $n = scalar @steps;
	for my $p ([ 'the hub', $hub ], [ 'node a', $a ], [ 'node b', $b ])
	{
		ok($p->[1]->poll_query_until('postgres', qq{
SELECT c.state = '$state' AND c.last_step_no = $n
       AND NOT EXISTS (SELECT FROM dataspace.contract_step s WHERE s.contract_id = c.id
                        AND s.local AND s.delivered_at IS NULL AND s.superseded_at IS NULL)
  FROM dataspace.contract c WHERE c.id = '$k'}),
			"$what: $p->[0] holds the contract $state after $n steps");
	}
	my $hc = chain($hub, $k);
	is(join(',', map { (split /:/)[1] } split /,/, $hc), join(',', @steps),
		"$what: the hub's order is " . join(', ', @steps));
	is(chain($a, $k), $hc, "$what: node a holds the hub's chain");
	is(chain($b, $k), $hc, "$what: node b holds the hub's chain");
}

# One superseded step on $n: "step_no step superseded_by-is-the-hub's-step
# never-delivered delivery_error".
sub superseded
{
	my ($n, $k) = @_;
	return $n->safe_psql('postgres', qq{
SELECT string_agg(s.step_no || ' ' || s.step || ' ' || (s.superseded_by = w.step_hash)
                  || ' ' || (s.delivered_at IS NULL AND s.hub_seq IS NULL)
                  || ' ' || coalesce(s.delivery_error, '-'), '; ' ORDER BY s.step_no)
  FROM dataspace.contract_step s
  LEFT JOIN dataspace.contract_step w ON w.contract_id = s.contract_id
   AND w.step_no = (SELECT min(step_no) FROM dataspace.contract_step x
                     WHERE x.contract_id = s.contract_id AND x.superseded_at IS NOT NULL)
   AND w.superseded_at IS NULL
 WHERE s.contract_id = '$k' AND s.superseded_at IS NOT NULL});
}

# The audit entries of reconciliations of contract $k: "superseded steps >
# winning step (rolled back to)".
sub reconciled
{
	my ($n, $k) = @_;
	return $n->safe_psql('postgres', qq{
SELECT string_agg((SELECT string_agg(e->>'step_no' || ' ' || (e->>'step'), ', ')
                     FROM jsonb_array_elements(detail->'superseded') e)
                  || ' > ' || (detail->'by'->>'step_no') || ' ' || (detail->'by'->>'step')
                  || ' by ' || (detail->'by'->>'actor')
                  || ' (back to ' || (detail->>'rolled_back_to') || ')', '; ' ORDER BY seq)
  FROM dataspace.audit_log WHERE event = 'contract.reconcile' AND subject = '$k'});
}

sub audit_ok
{
	my ($n, $what) = @_;
	is($n->safe_psql('postgres', q{
SELECT count(*) > 0 AND bool_and(ok IS TRUE) FROM dataspace.verify_audit_log()}),
		't', "$what: the audit log verifies");
}

# An offer of a to b, seen by b.
sub offer
{
	my $k = $a->safe_psql('postgres', qq{
SELECT dataspace.offer_contract('$id{b}', '{$asset}', '{}', now() + interval '1 year')});
	ok($b->poll_query_until('postgres', qq{SELECT state = 'OFFERED' FROM dataspace.contract WHERE id = '$k'}),
		'node b sees the offer');
	return $k;
}

# An offer of a to b, accepted and active on both nodes.
sub active
{
	my $k = offer();
	is($b->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k')}), 'ACCEPTED', 'node b accepts');
	converge($k, 'active', 'negotiated', qw(offer accept agree verify finalize));
	return $k;
}

my $refused = sub {
	my ($role, $k, $no) = @_;
	my $log = slurp_file($hub->logfile);
	my @m = $log =~ /refused a submission from role "$role": step $no of contract $k is already recorded/g;
	return scalar @m;
};

# Wait for two more complete rounds of $n's worker.
sub two_rounds
{
	my $n = shift;
	for (1 .. 2)
	{
		my $t = $n->safe_psql('postgres', 'SELECT last_success FROM dataspace.hub_status');
		$n->safe_psql('postgres', 'SELECT dataspace.sync_now()');
		$n->poll_query_until('postgres', qq{SELECT last_success > '$t' FROM dataspace.hub_status})
		  or die 'no round';
	}
}

# 1. An offer: the consumer accepts while the provider withdraws it; the
# withdrawal reaches the hub first.
my $k1 = offer();
hold('b');
is($b->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k1')}), 'ACCEPTED',
	'offer 1: node b accepts while away from the hub');
is($a->safe_psql('postgres', qq{SELECT dataspace.reject_contract('$k1', 'withdrawn')}), 'TERMINATED',
	'offer 1: node a withdraws the offer');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'TERMINATED' FROM dataspace.contract WHERE id = '$k1'}),
	'offer 1: the withdrawal is at the hub first');
release('b');
converge($k1, 'TERMINATED', 'offer 1', qw(offer reject));
like(superseded($b, $k1), qr/^2 accept true true step 2 of contract $k1 is already recorded$/,
	'offer 1: node b keeps its acceptance, superseded by the withdrawal, never delivered');
is(superseded($a, $k1), '', 'offer 1: node a superseded nothing');
is(reconciled($b, $k1), "2 accept > 2 reject by $id{a} (back to OFFERED)",
	'offer 1: node b\'s audit log records the reconciliation');
is($b->safe_psql('postgres', qq{
SELECT coalesce(consumer_signature::text, 'unsigned') || ' ' || reason || ' '
       || dataspace.contract_allows(id, '$asset', now()) FROM dataspace.contract WHERE id = '$k1'}),
	'unsigned withdrawn false', 'offer 1: node b no longer holds its signature under the contract');
like($b->safe_psql('postgres', qq{SELECT alarm FROM dataspace.contract WHERE id = '$k1'}),
	qr/^step 2 \(accept\) of this node lost to the counterparty's step 2 \(reject\) at the hub and is superseded\. The contract has ended/,
	'offer 1: node b\'s contract says what happened');
ok($b->log_contains(qr/WARNING:  contract $k1: this node's step 2 \(accept\) lost to the counterparty's step 2 \(reject\) at the hub/),
	'offer 1: node b warns');
my $lost = $b->safe_psql('postgres', qq{
SELECT encode(step_hash, 'hex') FROM dataspace.contract_step WHERE contract_id = '$k1' AND superseded_at IS NOT NULL});
my $won = $hub->safe_psql('postgres', qq{
SELECT encode(step_hash, 'hex') FROM dataspace.contract_step WHERE contract_id = '$k1' AND step_no = 2});
is($b->safe_psql('postgres', qq{
SELECT (detail->'superseded'->0->>'step_hash') || ' ' || (detail->'by'->>'step_hash')
  FROM dataspace.audit_log WHERE event = 'contract.reconcile' AND subject = '$k1'}),
	"$lost $won", 'offer 1: the audit entry names the superseded step and the hub\'s step by their hashes');
two_rounds($b);
is($hub->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.contract_step WHERE step_hash = '\\x$lost'}), '0',
	'offer 1: the superseded step is not at the hub');
is($refused->('node_b', $k1, 2), 1, 'offer 1: and was offered to the hub once only');

# 2. The same crossing, the acceptance first: the provider's withdrawal is
# superseded and taken again after the acceptance (it never agrees).
my $k2 = offer();
hold('a');
is($a->safe_psql('postgres', qq{SELECT dataspace.reject_contract('$k2', 'withdrawn')}), 'TERMINATED',
	'offer 2: node a withdraws while away from the hub');
is($b->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k2')}), 'ACCEPTED',
	'offer 2: node b accepts');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'ACCEPTED' FROM dataspace.contract WHERE id = '$k2'}),
	'offer 2: the acceptance is at the hub first');
release('a');
converge($k2, 'TERMINATED', 'offer 2', qw(offer accept reject));
like(superseded($a, $k2), qr/^2 reject true true step 2 of contract $k2 is already recorded$/,
	'offer 2: node a keeps its first withdrawal, superseded');
is($a->safe_psql('postgres', qq{
SELECT s.step || ' ' || s.local || ' ' || (s.reissue_of = l.step_hash) || ' ' || c.reason
  FROM dataspace.contract_step s JOIN dataspace.contract c ON c.id = s.contract_id
  JOIN dataspace.contract_step l ON l.contract_id = s.contract_id AND l.superseded_at IS NOT NULL
 WHERE s.contract_id = '$k2' AND s.step_no = 3 AND s.superseded_at IS NULL}),
	'reject true true withdrawn', 'offer 2: node a takes its withdrawal again as step 3, with its reason');
is(reconciled($a, $k2), "2 reject > 2 accept by $id{b} (back to OFFERED)",
	'offer 2: node a\'s audit log records the reconciliation');
my $lost2 = $a->safe_psql('postgres', qq{
SELECT encode(step_hash, 'hex') FROM dataspace.contract_step WHERE contract_id = '$k2' AND superseded_at IS NOT NULL});
is($a->safe_psql('postgres', qq{
SELECT string_agg(detail->>'step_no' || ' ' || (detail->>'origin') || ' ' || coalesce(detail->>'reissue_of', '-'), '; ' ORDER BY seq)
  FROM dataspace.audit_log WHERE event = 'contract.reject' AND subject = '$k2'}),
	"2 local -; 3 reissued $lost2", 'offer 2: and both withdrawals, the second naming the first');
is($hub->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.contract_step WHERE contract_id = '$k2' AND step = 'agree'}),
	'0', 'offer 2: node a never agreed');

# 3. Both withdraw from an offer at once.
my $k3 = offer();
hold('b');
is($b->safe_psql('postgres', qq{SELECT dataspace.reject_contract('$k3', 'not needed')}), 'TERMINATED',
	'offer 3: node b rejects while away from the hub');
is($a->safe_psql('postgres', qq{SELECT dataspace.reject_contract('$k3', 'withdrawn')}), 'TERMINATED',
	'offer 3: node a withdraws');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'TERMINATED' FROM dataspace.contract WHERE id = '$k3'}),
	'offer 3: the withdrawal is at the hub first');
release('b');
converge($k3, 'TERMINATED', 'offer 3', qw(offer reject));
is($b->safe_psql('postgres', qq{SELECT reason FROM dataspace.contract WHERE id = '$k3'}), 'withdrawn',
	'offer 3: node b shows the reason the hub recorded');
is(reconciled($b, $k3), "2 reject > 2 reject by $id{a} (back to OFFERED)",
	'offer 3: node b\'s audit log records the reconciliation');

# 4. An active contract: the provider suspends while the consumer revokes;
# the suspension is first, the revocation is taken again after it.
my $k4 = active();
hold('b');
is($b->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k4', 'no longer needed')}), 'revoked',
	'contract 4: node b revokes while away from the hub');
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k4', 'maintenance')}), 'suspended',
	'contract 4: node a suspends');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'suspended' FROM dataspace.contract WHERE id = '$k4'}),
	'contract 4: the suspension is at the hub first');
release('b');
converge($k4, 'revoked', 'contract 4', qw(offer accept agree verify finalize suspend revoke));
like(superseded($b, $k4), qr/^6 revoke true true step 6 of contract $k4 is already recorded$/,
	'contract 4: node b keeps its first revocation, superseded');
is(reconciled($b, $k4), "6 revoke > 6 suspend by $id{a} (back to active)",
	'contract 4: node b\'s audit log records the reconciliation');
for my $p ([ 'a', $a ], [ 'b', $b ])
{
	is($p->[1]->safe_psql('postgres', qq{
SELECT reason || ' ' || dataspace.contract_allows(id, '$asset', now()) FROM dataspace.contract WHERE id = '$k4'}),
		'no longer needed false', "contract 4: node $p->[0] holds the revocation, reason and all");
}

# 5. The same, the revocation first: the provider's suspension and the
# resumption after it are superseded, and nothing is taken again.
my $k5 = active();
hold('a');
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k5', 'maintenance')}), 'suspended',
	'contract 5: node a suspends while away from the hub');
is($a->safe_psql('postgres', qq{SELECT dataspace.resume_contract('$k5')}), 'active',
	'contract 5: and resumes');
is($b->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k5', 'no longer needed')}), 'revoked',
	'contract 5: node b revokes');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'revoked' FROM dataspace.contract WHERE id = '$k5'}),
	'contract 5: the revocation is at the hub first');
release('a');
converge($k5, 'revoked', 'contract 5', qw(offer accept agree verify finalize revoke));
like(superseded($a, $k5), qr/^6 suspend true true step 6 of contract $k5 is already recorded; 7 resume true true -$/,
	'contract 5: node a keeps both its steps, superseded; the second was held back, never sent');
is(reconciled($a, $k5), "6 suspend, 7 resume > 6 revoke by $id{b} (back to active)",
	'contract 5: node a\'s audit log records one reconciliation of both');
is($a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.contract_step WHERE contract_id = '$k5' AND reissue_of IS NOT NULL}),
	'0', 'contract 5: node a takes nothing again');

# 6. An automatic step loses: node a, back at the hub, finds the
# acceptance, agrees by itself, and then the consumer's rejection after
# the acceptance; its agreement is superseded.
my $k7 = offer();
hold('a');
is($b->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k7')}), 'ACCEPTED', 'offer 7: node b accepts');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'ACCEPTED' FROM dataspace.contract WHERE id = '$k7'}),
	'offer 7: the acceptance is at the hub');
is($b->safe_psql('postgres', qq{SELECT dataspace.reject_contract('$k7', 'changed my mind')}), 'TERMINATED',
	'offer 7: node b rejects before node a agreed');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'TERMINATED' FROM dataspace.contract WHERE id = '$k7'}),
	'offer 7: the rejection is at the hub');
release('a');
converge($k7, 'TERMINATED', 'offer 7', qw(offer accept reject));
is(superseded($a, $k7), '3 agree true true -', 'offer 7: node a\'s agreement is superseded before it was sent');
is(reconciled($a, $k7), "3 agree > 3 reject by $id{b} (back to ACCEPTED)",
	'offer 7: node a\'s audit log records the reconciliation');
is($a->safe_psql('postgres', qq{SELECT alarm FROM dataspace.contract WHERE id = '$k7'}),
	"step 3 (agree) of this node lost to the counterparty's step 3 (reject) at the hub and is superseded."
	  . " The contract has ended; nothing of this node's is taken again.",
	'offer 7: node a\'s contract says its agreement lost');

# later steps of the nodes flow: a new contract between them goes through
my $k6 = active();
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k6', 'maintenance')}), 'suspended',
	'after the crossings, node a suspends another contract');
converge($k6, 'suspended', 'contract 6', qw(offer accept agree verify finalize suspend));

audit_ok($_->[1], $_->[0]) for ([ 'node a', $a ], [ 'node b', $b ], [ 'the hub', $hub ]);
my $states = q{SELECT string_agg(id || ' ' || state, ', ' ORDER BY id) FROM dataspace.contract};
my $hub_states = $hub->safe_psql('postgres', $states);
is($a->safe_psql('postgres', $states), $hub_states, 'node a holds every contract in the hub\'s state');
is($b->safe_psql('postgres', $states), $hub_states, 'node b holds every contract in the hub\'s state');

# 7. A winning step that does not verify is never applied: the hub shows
# node b a withdrawal whose signature is not node a's.
my $k8 = offer();
hold('b');
is($b->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k8')}), 'ACCEPTED',
	'offer 8: node b accepts while away from the hub');
is($a->safe_psql('postgres', qq{SELECT dataspace.reject_contract('$k8', 'withdrawn')}), 'TERMINATED',
	'offer 8: node a withdraws the offer');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'TERMINATED' FROM dataspace.contract WHERE id = '$k8'}),
	'offer 8: the withdrawal is at the hub first');
$hub->safe_psql('postgres', qq{
UPDATE dataspace.contract_step SET signature = decode(repeat('00', 64), 'hex')
 WHERE contract_id = '$k8' AND step_no = 2});
release('b');
ok($b->poll_query_until('postgres', qq{
SELECT alarm LIKE 'refused step 2 from the hub: the step''s signature does not verify under key % which contract $k8 pins for its provider'
  FROM dataspace.contract WHERE id = '$k8'}), 'offer 8: node b refuses the step');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.audit_log WHERE event = 'contract.step_refused' AND subject = '$k8'}), '1',
	'offer 8: and records the refusal in its audit log');
is($b->safe_psql('postgres', qq{SELECT dataspace.clear_alarm('$k8') LIKE 'refused step 2 from the hub:%'}), 't',
	'offer 8: an operator clears the alarm, and gets its text');
$b->safe_psql('postgres', 'SELECT dataspace.sync_now()');
sleep(1);
is($b->safe_psql('postgres', qq{
SELECT (alarm IS NULL) || ' ' || (SELECT count(*) FROM dataspace.audit_log
                                  WHERE event = 'contract.alarm_cleared' AND subject = '$k8')
  FROM dataspace.contract WHERE id = '$k8'}), 'true 1',
	'offer 8: a refusal is not raised again by later rounds; the clearing is audited');
is($b->safe_psql('postgres', qq{
SELECT c.state || ' ' || (SELECT count(*) FROM dataspace.contract_step s WHERE s.contract_id = c.id AND s.superseded_at IS NOT NULL)
       || ' ' || (SELECT count(*) FROM dataspace.audit_log WHERE event = 'contract.reconcile' AND subject = '$k8')
  FROM dataspace.contract c WHERE c.id = '$k8'}),
	'ACCEPTED 0 0', 'offer 8: and keeps its own step: nothing superseded, nothing reconciled');

$_->stop for ($a, $b, $hub);
done_testing();
