# pg_dataspace: PGXS build
#
#   make && make install          build and install the extension
#   make installcheck             pg_regress against a throw-away instance, then
#                                 the TAP tests (only if pg_regress passed)
#   make regresscheck             pg_regress only
#   make tapcheck                 TAP tests (test/t/*.pl), PostgreSQL::Test::Cluster
#   make unitcheck                C unit tests of src/seal.c (test/unit), no server
#
# The control file's default_version is the one source of the version.

EXTENSION = pg_dataspace
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = pg_dataspace
OBJS = \
	src/pg_dataspace.o \
	src/guc.o \
	src/seal.o \
	src/util.o \
	src/keys.o \
	src/ingest.o \
	src/sealstore.o \
	src/dbworker.o \
	src/sealer.o \
	src/verify.o \
	src/proof.o \
	src/jsonread.o \
	src/textform.o \
	src/policy.o \
	src/policyfuncs.o \
	src/submission.o \
	src/hub.o \
	src/hubsync.o \
	src/twinmodel.o \
	src/twinmodelfuncs.o \
	src/contractmsg.o \
	src/contract.o \
	src/remote.o \
	src/export.o \
	src/purpose.o \
	src/gossip.o \
	src/alarm.o \
	src/replication.o \
	src/utility.o \
	src/witness.o \
	src/audit.o \
	src/anchor.o

DATA = $(EXTENSION)--$(EXTVERSION).sql

# in dependency order: later files use the twins and assets of earlier ones
REGRESS = install node twin_asset twin_model point seal tamper retention_keys crosscheck proof policy contract privileges receipts audit_log key_history witness seal_parts verify_interval retention_revocation
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=./tmp_check
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
EXTRA_CLEAN = tmp_check results regression.diffs regression.out log test/unit/test_seal

PG_CPPFLAGS = -I$(srcdir)/src -I$(shell $(PG_CONFIG) --includedir)
SHLIB_LINK = -lcrypto -lpq

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Run only the TAP tests (the PGXS installcheck target runs pg_regress first
# and stops at its first failure; tools/test.sh runs the two separately).
.PHONY: tapcheck regresscheck unitcheck
tapcheck:
	$(prove_installcheck)

regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

unitcheck:
	$(MAKE) -C $(srcdir)/test/unit check
