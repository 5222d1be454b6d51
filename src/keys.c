/*-------------------------------------------------------------------------
 *
 * keys.c
 *		Node identity, signing keys, their wrapping, rotation and revocation.
 *
 * The node's Ed25519 private keys are stored in dataspace.node_key wrapped
 * with AES-256-GCM under a 32-byte key held in a 0600 file in the data
 * directory (dataspace.key_file).  A dump therefore carries only wrapped
 * keys; the wrapping key travels separately, by the operator's hand.  No
 * function returns a private key, and nothing here signs caller-supplied
 * bytes: signing is reachable only through the operations that own it.
 *
 * The identity is bound to the database system and the database it was
 * created in.  A copy (CREATE DATABASE ... TEMPLATE, a restored dump) is
 * recognised and refuses to sign until an operator adopts it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "audit.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "util.h"

#define KEK_LEN			32
#define KEK_MAGIC		"PGDSKEK1"
#define KEK_MAGIC_LEN	8
#define WRAP_MAGIC		"W1"
#define WRAP_IV_LEN		12
#define WRAP_TAG_LEN	16
#define WRAPPED_LEN		(2 + WRAP_IV_LEN + DS_PRIVKEY_LEN + WRAP_TAG_LEN)
#define WRAP_AAD_LABEL	"pg_dataspace private key v1"

/* advisory lock key (second half) serialising identity changes */
#define NODE_LOCK_KEY	0x6e6f6465

PG_FUNCTION_INFO_V1(dataspace_node_id);
PG_FUNCTION_INFO_V1(dataspace_init_node);
PG_FUNCTION_INFO_V1(dataspace_node_info);
PG_FUNCTION_INFO_V1(dataspace_rotate_node_key);
PG_FUNCTION_INFO_V1(dataspace_revoke_node_key);
PG_FUNCTION_INFO_V1(dataspace_adopt_node);

static void
wipe_callback(void *arg)
{
	ds_wipe(arg, DS_PRIVKEY_LEN);
}

/*
 * alloc_secret
 *		DS_PRIVKEY_LEN bytes in the current context, wiped when the context
 *		is reset or deleted, on error as on success.
 */
static uint8 *
alloc_secret(void)
{
	uint8	   *p = palloc0(DS_PRIVKEY_LEN);
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	cb->func = wipe_callback;
	cb->arg = p;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return p;
}

static char *
key_file_path(void)
{
	if (dataspace_key_file == NULL || dataspace_key_file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataspace.key_file is not set"),
				 errdetail("The node's private keys are wrapped with the key in the file this setting names."),
				 errhint("Set dataspace.key_file in postgresql.conf (a path relative to the data directory, by default \"pg_dataspace.key\") and reload the configuration.")));
	if (is_absolute_path(dataspace_key_file))
		return pstrdup(dataspace_key_file);
	return psprintf("%s/%s", DataDir, dataspace_key_file);
}

static bool
read_kek(const char *path, uint8 kek[KEK_LEN])
{
	uint8		buf[KEK_MAGIC_LEN + KEK_LEN + 1];
	int			fd;
	int			n;
	struct stat st;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			return false;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open key file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("key file \"%s\" is accessible to other users", path),
				 errdetail("The file wraps the node's private keys."),
				 errhint("Make it readable by the server's user only: chmod 0600.")));
	}
	n = read(fd, buf, sizeof(buf));
	CloseTransientFile(fd);
	if (n != KEK_MAGIC_LEN + KEK_LEN || memcmp(buf, KEK_MAGIC, KEK_MAGIC_LEN) != 0)
	{
		ds_wipe(buf, sizeof(buf));
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("key file \"%s\" is not a pg_dataspace key file", path),
				 errdetail("A pg_dataspace key file holds %d bytes: the marker \"%s\" and a 32-byte key.",
						   KEK_MAGIC_LEN + KEK_LEN, KEK_MAGIC),
				 errhint("Restore the key file of this node from its backup, or point dataspace.key_file at it.")));
	}
	memcpy(kek, buf + KEK_MAGIC_LEN, KEK_LEN);
	ds_wipe(buf, sizeof(buf));
	return true;
}

/*
 * load_kek
 *		Read the wrapping key, creating the file on first use.
 *
 * The new file is written under a temporary name and linked into place,
 * so that concurrent creators agree on one key and no reader ever sees a
 * partly written file.
 */
static void
load_kek(uint8 kek[KEK_LEN], bool create)
{
	char	   *path = key_file_path();
	char	   *tmp;
	uint8		buf[KEK_MAGIC_LEN + KEK_LEN];
	int			fd;

	if (read_kek(path, kek))
		return;
	if (!create)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("key file \"%s\" does not exist", path),
				 errdetail("The node's private keys are wrapped with the key in this file."),
				 errhint("Copy the key file from the node this database came from, or set dataspace.key_file.")));

	memcpy(buf, KEK_MAGIC, KEK_MAGIC_LEN);
	if (!pg_strong_random(buf + KEK_MAGIC_LEN, KEK_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random key")));
	tmp = psprintf("%s.tmp.%d", path, MyProcPid);
	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create key file \"%s\": %m", tmp)));
	if (write(fd, buf, sizeof(buf)) != sizeof(buf) || pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write key file \"%s\": %m", tmp)));
	}
	CloseTransientFile(fd);
	ds_wipe(buf, sizeof(buf));
	if (link(tmp, path) != 0 && errno != EEXIST)
	{
		int			save_errno = errno;

		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create key file \"%s\": %m", path)));
	}
	unlink(tmp);
	if (!read_kek(path, kek))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read key file \"%s\"", path)));
	ereport(LOG,
			(errmsg("created pg_dataspace key file \"%s\"", path),
			 errdetail("Back it up: without it the node's private keys cannot be unwrapped.")));
}

static void
wrap_aad(const uint8 node_id[DS_UUID_LEN], const uint8 key_id[DS_HASH_LEN],
		 uint8 *aad, size_t *len)
{
	size_t		l = strlen(WRAP_AAD_LABEL);

	memcpy(aad, WRAP_AAD_LABEL, l);
	memcpy(aad + l, node_id, DS_UUID_LEN);
	memcpy(aad + l + DS_UUID_LEN, key_id, DS_HASH_LEN);
	*len = l + DS_UUID_LEN + DS_HASH_LEN;
}

/*
 * wrap_key / unwrap_key
 *		AES-256-GCM, the node id and key id as associated data, so a wrapped
 *		key cannot be moved to another row or node unnoticed.
 */
static void
wrap_key(const uint8 priv[DS_PRIVKEY_LEN], const uint8 node_id[DS_UUID_LEN],
		 const uint8 key_id[DS_HASH_LEN], uint8 out[WRAPPED_LEN])
{
	uint8		kek[KEK_LEN];
	uint8		aad[64 + DS_UUID_LEN + DS_HASH_LEN];
	size_t		aadlen;
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	load_kek(kek, true);
	wrap_aad(node_id, key_id, aad, &aadlen);
	memcpy(out, WRAP_MAGIC, 2);
	if (!pg_strong_random(out + 2, WRAP_IV_LEN))
		elog(ERROR, "could not generate random IV");
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), kek, out + 2, NULL) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &len, aad, (int) aadlen) == 1 &&
		EVP_EncryptUpdate(ctx, out + 2 + WRAP_IV_LEN, &len, priv, DS_PRIVKEY_LEN) == 1 &&
		len == DS_PRIVKEY_LEN &&
		EVP_EncryptFinal_ex(ctx, out + 2 + WRAP_IV_LEN + len, &len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, WRAP_TAG_LEN,
							out + 2 + WRAP_IV_LEN + DS_PRIVKEY_LEN) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ds_wipe(kek, sizeof(kek));
	if (!ok)
		elog(ERROR, "could not wrap private key");
}

static void
unwrap_key(const uint8 *wrapped, size_t wlen, const uint8 node_id[DS_UUID_LEN],
		   const uint8 key_id[DS_HASH_LEN], uint8 priv[DS_PRIVKEY_LEN])
{
	uint8		kek[KEK_LEN];
	uint8		aad[64 + DS_UUID_LEN + DS_HASH_LEN];
	uint8		tag[WRAP_TAG_LEN];
	size_t		aadlen;
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	if (wlen != WRAPPED_LEN || memcmp(wrapped, WRAP_MAGIC, 2) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped private key of key %s is malformed",
						ds_hex(key_id, DS_HASH_LEN)),
				 errdetail("A wrapped private key holds %d bytes starting with \"%s\"; the stored one holds %zu.",
						   WRAPPED_LEN, WRAP_MAGIC, wlen),
				 errhint("The row in dataspace.node_key was altered; restore it from a backup.")));
	load_kek(kek, false);
	wrap_aad(node_id, key_id, aad, &aadlen);
	memcpy(tag, wrapped + 2 + WRAP_IV_LEN + DS_PRIVKEY_LEN, WRAP_TAG_LEN);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), kek, wrapped + 2, NULL) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &len, aad, (int) aadlen) == 1 &&
		EVP_DecryptUpdate(ctx, priv, &len, wrapped + 2 + WRAP_IV_LEN, DS_PRIVKEY_LEN) == 1 &&
		len == DS_PRIVKEY_LEN &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, WRAP_TAG_LEN, tag) == 1 &&
		EVP_DecryptFinal_ex(ctx, priv + len, &len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ds_wipe(kek, sizeof(kek));
	if (!ok)
	{
		ds_wipe(priv, DS_PRIVKEY_LEN);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("could not unwrap the private key of key %s",
						ds_hex(key_id, DS_HASH_LEN)),
				 errdetail("The key file does not hold the key this private key was wrapped with, or the stored key was altered."),
				 errhint("Use the key file of the node this database came from.")));
	}
}

static char *
system_identifier_text(void)
{
	return psprintf(UINT64_FORMAT, GetSystemIdentifier());
}

/*
 * lock_node_identity
 *		Identity changes (creation, rotation, revocation, adoption) take this
 *		lock exclusively; signers take it shared, until their transaction
 *		ends.  So a rotation waits for seals in progress, and stamps the old
 *		key's retirement after every seal made with it.
 */
static void
lock_node_identity_mode(LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ds_schema_oid(), NODE_LOCK_KEY, 2);
	(void) LockAcquire(&tag, mode, false, false);
}

static void
lock_node_identity(void)
{
	lock_node_identity_mode(ExclusiveLock);
}

/*
 * ds_node_load
 *		Read the node identity; false if the node has none yet.
 */
bool
ds_node_load(DsNode *node)
{
	static SPIPlanPtr node_plan = NULL;
	MemoryContext outer = CurrentMemoryContext;
	DsSavedUser saved;
	bool		found;

	ds_become_owner(&saved);
	SPI_connect();
	ds_spi_exec_kept(&node_plan,
					 "SELECT node_id, name, system_identifier, database_oid, database_name::pg_catalog.text"
					 " FROM dataspace.node", 0, NULL, NULL, NULL, false, -1);
	found = SPI_processed == 1;
	if (found)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);
		bool		isnull;

		ds_spi_get_uuid(0, 1, node->node_id);
		node->name = TextDatumGetCString(ds_spi_get(0, 2, &isnull));
		node->system_identifier = TextDatumGetCString(ds_spi_get(0, 3, &isnull));
		node->database_oid = DatumGetObjectId(ds_spi_get(0, 4, &isnull));
		node->database_name = TextDatumGetCString(ds_spi_get(0, 5, &isnull));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	ds_restore_user(&saved);
	return found;
}

/*
 * insert_key
 *		Generate a key pair and store it, wrapped.  With a previous key, the
 *		new key is announced in a record signed by the previous one.
 */
static void
insert_key(const uint8 node_id[DS_UUID_LEN], const DsSigner *previous,
		   uint8 key_id_out[DS_HASH_LEN])
{
	uint8	   *priv = alloc_secret();
	uint8		pub[DS_PUBKEY_LEN];
	uint8		key_id[DS_HASH_LEN];
	uint8		wrapped[WRAPPED_LEN];
	uint8		msgbuf[256];
	uint8		sig[DS_SIG_LEN];
	uint8		pop[DS_SIG_LEN];
	TimestampTz now = GetCurrentTimestamp();
	Oid			types[9] = {BYTEAOID, UUIDOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID,
	BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID};
	Datum		values[9];
	char		nulls[9] = "         ";

	if (!ds_ed25519_keygen(pub, priv))
		elog(ERROR, "could not generate an Ed25519 key pair");
	if (!ds_key_id(ds_backend_hasher(), pub, key_id))
		elog(ERROR, "could not hash public key");
	wrap_key(priv, node_id, key_id, wrapped);

	values[0] = ds_bytea_datum(key_id, DS_HASH_LEN);
	values[1] = ds_uuid_datum(node_id);
	values[2] = ds_bytea_datum(pub, DS_PUBKEY_LEN);
	values[3] = ds_bytea_datum(wrapped, WRAPPED_LEN);
	values[4] = TimestampTzGetDatum(now);
	if (previous != NULL)
	{
		ds_msg		m;

		ds_msg_begin(&m, msgbuf, sizeof(msgbuf), DS_MSG_KEY_ANNOUNCE);
		ds_msg_bytes(&m, node_id, DS_UUID_LEN);
		ds_msg_bytes(&m, key_id, DS_HASH_LEN);
		ds_msg_bytes(&m, pub, DS_PUBKEY_LEN);
		ds_msg_int64(&m, ds_ts_to_unix_us(now));
		ds_msg_bytes(&m, previous->key_id, DS_HASH_LEN);
		if (!ds_msg_ok(&m) || !ds_signer_sign(previous, msgbuf, m.len, sig))
			elog(ERROR, "could not sign key announcement");
		/* the new key signs the same record: proof of possession */
		if (!ds_ed25519_sign(priv, msgbuf, m.len, pop))
			elog(ERROR, "could not sign the proof of possession of the new key");
		values[5] = ds_bytea_datum(previous->key_id, DS_HASH_LEN);
		values[6] = ds_bytea_datum(msgbuf, m.len);
		values[7] = ds_bytea_datum(sig, DS_SIG_LEN);
		values[8] = ds_bytea_datum(pop, DS_SIG_LEN);
	}
	else
		nulls[5] = nulls[6] = nulls[7] = nulls[8] = 'n';

	ds_spi_exec("INSERT INTO dataspace.node_key (key_id, node_id, public_key,"
				" wrapped_private_key, created_at, previous_key_id, announcement,"
				" announcement_signature, possession_signature)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
				9, types, values, nulls, false, 1);
	memcpy(key_id_out, key_id, DS_HASH_LEN);
}

/*
 * create_node
 *		Create the identity: a random node id, the binding to this database
 *		system and database, and the first key pair.
 */
static void
create_node(const char *name)
{
	uint8		node_id[DS_UUID_LEN];
	uint8		key_id[DS_HASH_LEN];
	Oid			types[5] = {UUIDOID, TEXTOID, TEXTOID, OIDOID, NAMEOID};
	Datum		values[5];
	char	   *dbname = get_database_name(MyDatabaseId);

	if (!pg_strong_random(node_id, DS_UUID_LEN))
		elog(ERROR, "could not generate node id");
	node_id[6] = (node_id[6] & 0x0f) | 0x40;	/* RFC 4122 version 4 */
	node_id[8] = (node_id[8] & 0x3f) | 0x80;

	values[0] = ds_uuid_datum(node_id);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(system_identifier_text());
	values[3] = ObjectIdGetDatum(MyDatabaseId);
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(dbname));
	ds_spi_exec("INSERT INTO dataspace.node (node_id, name, system_identifier,"
				" database_oid, database_name) VALUES ($1, $2, $3, $4, $5)",
				5, types, values, NULL, false, 1);
	insert_key(node_id, NULL, key_id);
	ereport(LOG,
			(errmsg("created dataspace node identity \"%s\" (%s)",
					name, ds_uuid_text(node_id))));
}

static const char *
default_node_name(void)
{
	if (dataspace_node_name != NULL && dataspace_node_name[0] != '\0')
		return dataspace_node_name;
	return get_database_name(MyDatabaseId);
}

/*
 * check_no_concurrent_node
 *		Called with the identity lock held, when this transaction's snapshot
 *		shows no identity.  Under REPEATABLE READ and SERIALIZABLE that
 *		snapshot may predate the lock: a transaction that created the
 *		identity and committed while this one waited is invisible to it, and
 *		creating a second identity would fail on the table's singleton key.
 *		Look with the latest snapshot and refuse with a serialization
 *		failure, which the caller can retry; the retry sees the identity.
 */
static void
check_no_concurrent_node(void)
{
	DsSavedUser saved;
	SPIPlanPtr	plan;
	bool		exists;

	if (!IsolationUsesXactSnapshot())
		return;
	ds_become_owner(&saved);
	SPI_connect();
	plan = SPI_prepare("SELECT 1 FROM dataspace.node", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed");
	exists = SPI_processed > 0;
	SPI_finish();
	ds_restore_user(&saved);
	if (exists)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent creation of the node identity"),
				 errdetail("Another transaction created the node identity after this transaction's snapshot was taken."),
				 errhint("Retry the transaction: it will use the identity the other transaction created.")));
}

/*
 * ds_node_ensure
 *		Load the node identity, creating it on first use.
 */
void
ds_node_ensure(DsNode *node)
{
	DsSavedUser saved;

	if (ds_node_load(node))
		return;
	lock_node_identity();
	if (ds_node_load(node))
		return;
	check_no_concurrent_node();
	ds_become_owner(&saved);
	SPI_connect();
	create_node(default_node_name());
	SPI_finish();
	ds_restore_user(&saved);
	if (!ds_node_load(node))
		elog(ERROR, "node identity vanished after creation");
}

/*
 * ds_node_check_binding
 *		Refuse to act as a node whose identity was made for another database.
 */
void
ds_node_check_binding(const DsNode *node)
{
	char	   *sysid = system_identifier_text();

	if (strcmp(sysid, node->system_identifier) != 0 ||
		node->database_oid != MyDatabaseId)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node identity \"%s\" belongs to another database", node->name),
				 errdetail("The identity was bound to database system %s, database \"%s\" (OID %u); this is database system %s, database OID %u.",
						   node->system_identifier, node->database_name,
						   node->database_oid, sysid, MyDatabaseId),
				 errhint("If this database is that node moved here (restored, upgraded), run dataspace.adopt_node() as a superuser; to give a copy its own key as well, run dataspace.adopt_node(rekey => true).")));
}

/*
 * ds_signer_load
 *		The current signing key, unwrapped, for this transaction's use.
 */
DsSigner *
ds_signer_load(void)
{
	return ds_signer_load_key(NULL);
}

/*
 * ds_signer_load_key
 *		A key of this node by id, current or retired, unwrapped; NULL means
 *		the current key.  A retired key signs one thing only: the hub-sync
 *		worker's rotate_key submission to a hub that still knows this node
 *		by that key (hubsync.c).
 */
DsSigner *
ds_signer_load_key(const uint8 *key_id)
{
	MemoryContext outer = CurrentMemoryContext;
	DsSigner   *signer = palloc0(sizeof(DsSigner));
	DsNode		node;
	DsSavedUser saved;
	Datum		wrapped;
	bool		isnull;

	ds_node_ensure(&node);
	lock_node_identity_mode(ShareLock);
	ds_node_check_binding(&node);
	memcpy(signer->node_id, node.node_id, DS_UUID_LEN);
	signer->private_key = alloc_secret();

	ds_become_owner(&saved);
	SPI_connect();
	if (key_id != NULL)
	{
		Oid			types[1] = {BYTEAOID};
		Datum		values[1] = {ds_bytea_datum(key_id, DS_HASH_LEN)};

		ds_spi_exec("SELECT key_id, public_key, wrapped_private_key FROM dataspace.node_key"
					" WHERE key_id OPERATOR(pg_catalog.=) $1", 1, types, values, NULL, false, -1);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("key %s is not a key of node \"%s\"",
							ds_hex(key_id, DS_HASH_LEN), node.name),
					 errdetail("No key in dataspace.node_key has this id."),
					 errhint("The view dataspace.node_public_key lists the keys of this node.")));
	}
	else
	{
		static SPIPlanPtr current_plan = NULL;

		ds_spi_exec_kept(&current_plan,
						 "SELECT key_id, public_key, wrapped_private_key FROM dataspace.node_key"
						 " WHERE retired_at IS NULL", 0, NULL, NULL, NULL, false, -1);
	}
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" has no current signing key", node.name),
				 errdetail("Every key in dataspace.node_key is retired."),
				 errhint("Run dataspace.rotate_node_key() to create one.")));
	ds_spi_get_bytes(0, 1, signer->key_id, DS_HASH_LEN);
	ds_spi_get_bytes(0, 2, signer->public_key, DS_PUBKEY_LEN);
	wrapped = ds_spi_get(0, 3, &isnull);
	{
		bytea	   *w = DatumGetByteaPP(wrapped);

		unwrap_key((uint8 *) VARDATA_ANY(w), VARSIZE_ANY_EXHDR(w),
				   signer->node_id, signer->key_id, signer->private_key);
	}
	SPI_finish();
	ds_restore_user(&saved);
	(void) outer;

	/* The wrapped key must belong to the public key it is stored with. */
	{
		uint8		pub[DS_PUBKEY_LEN];

		if (!ds_ed25519_public(signer->private_key, pub) ||
			memcmp(pub, signer->public_key, DS_PUBKEY_LEN) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("private key of key %s does not match its public key",
							ds_hex(signer->key_id, DS_HASH_LEN)),
					 errdetail("The public key stored with the key in dataspace.node_key is not the public key of the private key wrapped with it."),
					 errhint("The row in dataspace.node_key was altered; restore it from a backup.")));
	}
	return signer;
}

bool
ds_signer_sign(const DsSigner *signer, const uint8 *msg, size_t len,
			   uint8 sig[DS_SIG_LEN])
{
	return ds_ed25519_sign(signer->private_key, msg, len, sig);
}

/*
 * The keys SPI just returned as (key_id, public_key, valid from, valid
 * until or NULL, revoked, compromised since or NULL), copied into ring in
 * the context outer.
 */
static void
keyring_read(DsKeyring *ring, MemoryContext outer)
{
	ring->nkeys = (int) SPI_processed;
	ring->keys = MemoryContextAllocZero(outer, sizeof(DsKey) * Max(ring->nkeys, 1));
	for (int i = 0; i < ring->nkeys; i++)
	{
		DsKey	   *k = &ring->keys[i];
		bool		isnull;
		Datum		d;

		ds_spi_get_bytes(i, 1, k->key_id, DS_HASH_LEN);
		ds_spi_get_bytes(i, 2, k->public_key, DS_PUBKEY_LEN);
		k->created_at = DatumGetTimestampTz(ds_spi_get(i, 3, &isnull));
		d = ds_spi_get(i, 4, &isnull);
		k->retired_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
		k->revoked = ds_spi_getbool(i, 5, &isnull);
		d = ds_spi_get(i, 6, &isnull);
		k->compromised_since = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	}
}

/*
 * ds_keyring_load
 *		Every key of this node, public parts only, for verification.
 */
DsKeyring *
ds_keyring_load(void)
{
	static SPIPlanPtr keyring_plan = NULL;
	MemoryContext outer = CurrentMemoryContext;
	DsKeyring  *ring = palloc0(sizeof(DsKeyring));
	DsSavedUser saved;

	ds_become_owner(&saved);
	SPI_connect();
	ds_spi_exec_kept(&keyring_plan,
					 "SELECT key_id, public_key, created_at, retired_at, revoked_at IS NOT NULL,"
					 " compromised_since FROM dataspace.node_key", 0, NULL, NULL, NULL, false, -1);
	keyring_read(ring, outer);
	SPI_finish();
	ds_restore_user(&saved);
	return ring;
}

/*
 * ds_party_keys
 *		The keys another node (party) may have signed with under a contract
 *		that pins pinned_kid: the pinned key and those after it in the
 *		party's chain of announcements as the hub-sync worker checked it
 *		(dataspace.participant_key), newest first, each with its validity.
 *		Empty when no chain through the pinned key is held here: then the
 *		pinned key counts alone, as the contract gives it.  The pinned key's
 *		row is as the cache holds it: callers compare its public key with
 *		the contract's.
 */
DsKeyring *
ds_party_keys(const uint8 party[DS_UUID_LEN], const uint8 pinned_kid[DS_HASH_LEN])
{
	static SPIPlanPtr chain_plan = NULL;
	MemoryContext outer = CurrentMemoryContext;
	DsKeyring  *ring = palloc0(sizeof(DsKeyring));
	Oid			types[2] = {UUIDOID, BYTEAOID};
	Datum		values[2] = {ds_uuid_datum(party), ds_bytea_datum(pinned_kid, DS_HASH_LEN)};

	SPI_connect();
	ds_spi_exec_kept(&chain_plan,
					 "SELECT k.key_id, k.public_key, k.valid_from, k.valid_until,"
					 " k.revoked_at IS NOT NULL AND k.compromised_since IS NOT NULL, k.compromised_since"
					 " FROM dataspace.participant_key k"
					 " JOIN dataspace.participant_key p ON p.node_id OPERATOR(pg_catalog.=) k.node_id"
					 " AND p.key_id OPERATOR(pg_catalog.=) $2"
					 " WHERE k.node_id OPERATOR(pg_catalog.=) $1"
					 " AND k.position OPERATOR(pg_catalog.>=) p.position"
					 " ORDER BY k.position DESC",
					 2, types, values, NULL, true, -1);
	keyring_read(ring, outer);
	SPI_finish();
	return ring;
}

/*
 * key_valid_at
 *		Was k current at time at (from its creation to its retirement), and
 *		not revoked as compromised by then?
 */
static bool
key_valid_at(const DsKey *k, TimestampTz at)
{
	return at >= k->created_at && at < k->retired_at &&
		!(k->revoked && at >= k->compromised_since);
}

const DsKey *
ds_keyring_find(const DsKeyring *ring, const uint8 key_id[DS_HASH_LEN])
{
	for (int i = 0; i < ring->nkeys; i++)
		if (memcmp(ring->keys[i].key_id, key_id, DS_HASH_LEN) == 0)
			return &ring->keys[i];
	return NULL;
}

/*
 * dataspace.node_id() returns uuid
 *		This node's id, creating the identity on first use.
 */
Datum
dataspace_node_id(PG_FUNCTION_ARGS)
{
	DsNode		node;

	ds_node_ensure(&node);
	PG_RETURN_DATUM(ds_uuid_datum(node.node_id));
}

/*
 * dataspace.init_node(name text) returns uuid
 *		Create the identity with the given name.  Calling it again with the
 *		same name returns the existing id; another name is refused, since
 *		peers know the node by its name and key.
 */
Datum
dataspace_init_node(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DsNode		node;
	DsSavedUser saved;

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("node name must not be empty"),
				 errdetail("Peers and the hub know a node by its name."),
				 errhint("Pass a name such as \"plant-a\", or call dataspace.node_id() to take the name from dataspace.node_name or the database.")));
	lock_node_identity();
	if (ds_node_load(&node))
	{
		if (strcmp(node.name, name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("node identity already exists with name \"%s\"", node.name),
					 errdetail("The identity was created on first use or by an earlier call."),
					 errhint("A node's name is fixed once peers may know it.")));
		PG_RETURN_DATUM(ds_uuid_datum(node.node_id));
	}
	check_no_concurrent_node();
	ds_become_owner(&saved);
	SPI_connect();
	create_node(name);
	SPI_finish();
	ds_restore_user(&saved);
	if (!ds_node_load(&node))
		elog(ERROR, "node identity vanished after creation");
	PG_RETURN_DATUM(ds_uuid_datum(node.node_id));
}

/*
 * dataspace.node_info() returns (node_id, name, public_key, mode)
 */
Datum
dataspace_node_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	DsNode		node;
	DsSavedUser saved;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bytea	   *pub = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	ds_node_ensure(&node);

	ds_become_owner(&saved);
	SPI_connect();
	ds_spi_exec("SELECT public_key FROM dataspace.node_key WHERE retired_at IS NULL",
				0, NULL, NULL, NULL, false, -1);
	if (SPI_processed == 1)
	{
		bool		isnull;

		pub = (bytea *) SPI_datumTransfer(ds_spi_get(0, 1, &isnull), false, -1);
	}
	SPI_finish();
	ds_restore_user(&saved);

	values[0] = ds_uuid_datum(node.node_id);
	values[1] = CStringGetTextDatum(node.name);
	if (pub != NULL)
		values[2] = PointerGetDatum(pub);
	else
		nulls[2] = true;
	values[3] = CStringGetTextDatum(dataspace_mode == DATASPACE_MODE_HUB ? "hub" : "node");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * rotate_key
 *		Retire the current key (if any) and make a new one, announced by the
 *		previous key.  Seals made before the rotation keep verifying under
 *		the retired key.
 */
static void
rotate_key(const uint8 node_id[DS_UUID_LEN], bool have_current, uint8 new_key_id[DS_HASH_LEN])
{
	DsSigner   *previous = have_current ? ds_signer_load() : NULL;

	if (previous != NULL)
	{
		Oid			types[2] = {BYTEAOID, TIMESTAMPTZOID};
		Datum		values[2];

		values[0] = ds_bytea_datum(previous->key_id, DS_HASH_LEN);
		values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
		ds_spi_exec("UPDATE dataspace.node_key SET retired_at = $2"
					" WHERE key_id OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL",
					2, types, values, NULL, false, 1);
	}
	insert_key(node_id, previous, new_key_id);
	ds_audit_append("key.rotate", ds_hex(new_key_id, DS_HASH_LEN),
					ds_audit_json(1, "previous_key_id",
								  previous ? ds_hex(previous->key_id, DS_HASH_LEN) : NULL));
}

/*
 * dataspace.rotate_node_key() returns bytea
 *		Make a new signing key; returns its key id.
 */
Datum
dataspace_rotate_node_key(PG_FUNCTION_ARGS)
{
	DsNode		node;
	DsSavedUser saved;
	uint8		key_id[DS_HASH_LEN];
	bool		have_current;

	ds_node_ensure(&node);
	ds_node_check_binding(&node);
	lock_node_identity();
	ds_become_owner(&saved);
	SPI_connect();
	/* a new snapshot: the rotation this call may have waited for counts */
	ds_spi_exec("SELECT 1 FROM dataspace.node_key WHERE retired_at IS NULL",
				0, NULL, NULL, NULL, false, -1);
	have_current = SPI_processed == 1;
	rotate_key(node.node_id, have_current, key_id);
	SPI_finish();
	ds_restore_user(&saved);
	PG_RETURN_DATUM(ds_bytea_datum(key_id, DS_HASH_LEN));
}

/*
 * dataspace.revoke_node_key(key_id, compromised_since, reason) returns bytea
 *		Declare a key compromised since a point in time.  Seals it made from
 *		then on are reported as 'key revoked'; earlier seals still verify.
 *		If it is the current key, a new key replaces it first.  The
 *		revocation is recorded signed by the (new) current key; returns the
 *		id of the key now current.  Superuser only.
 */
Datum
dataspace_revoke_node_key(PG_FUNCTION_ARGS)
{
	bytea	   *kid = PG_GETARG_BYTEA_PP(0);
	TimestampTz since = PG_GETARG_TIMESTAMPTZ(1);
	char	   *reason = text_to_cstring(PG_GETARG_TEXT_PP(2));
	TimestampTz now = GetCurrentTimestamp();
	uint8		key_id[DS_HASH_LEN];
	uint8		current_id[DS_HASH_LEN];
	DsNode		node;
	DsSigner   *signer;
	uint8		msgbuf[256];
	uint8		sig[DS_SIG_LEN];
	ds_msg		m;
	bool		is_current;
	bool		isnull;
	Oid			types[7] = {BYTEAOID, TIMESTAMPTZOID, TEXTOID, BYTEAOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID};
	Datum		values[7];

	if (VARSIZE_ANY_EXHDR(kid) != DS_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key id must be 32 bytes"),
				 errdetail_plural("The key id given has %lu byte; a key id is the SHA-256 hash of a public key.",
								  "The key id given has %lu bytes; a key id is the SHA-256 hash of a public key.",
								  (unsigned long) VARSIZE_ANY_EXHDR(kid),
								  (unsigned long) VARSIZE_ANY_EXHDR(kid)),
				 errhint("The view dataspace.node_public_key lists the key ids of this node.")));
	if (TIMESTAMP_NOT_FINITE(since))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("compromised_since must be a finite time"),
				 errdetail("Seals the key made from this time on are reported as made with a revoked key."),
				 errhint("Give the earliest time the key may have been known to others, or the key's creation time if that is unknown.")));
	memcpy(key_id, VARDATA_ANY(kid), DS_HASH_LEN);
	ds_node_ensure(&node);
	ds_node_check_binding(&node);
	lock_node_identity();

	SPI_connect();
	values[0] = ds_bytea_datum(key_id, DS_HASH_LEN);
	/* a new snapshot: a revocation this call waited for, or made, counts */
	ds_spi_exec("SELECT retired_at IS NULL, revoked_at IS NOT NULL FROM dataspace.node_key"
				" WHERE key_id OPERATOR(pg_catalog.=) $1", 1, types, values, NULL, false, -1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("key %s is not a key of this node", ds_hex(key_id, DS_HASH_LEN)),
				 errdetail("No key in dataspace.node_key has this id."),
				 errhint("The view dataspace.node_public_key lists the keys of this node.")));
	is_current = ds_spi_getbool(0, 1, &isnull);
	if (ds_spi_getbool(0, 2, &isnull))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key %s is already revoked", ds_hex(key_id, DS_HASH_LEN)),
				 errdetail("A revocation is signed and final; its compromised_since cannot be changed."),
				 errhint("The view dataspace.node_public_key shows when the key was revoked.")));
	if (is_current)
		rotate_key(node.node_id, true, current_id);

	signer = ds_signer_load();
	ds_msg_begin(&m, msgbuf, sizeof(msgbuf), DS_MSG_KEY_REVOKE);
	ds_msg_bytes(&m, node.node_id, DS_UUID_LEN);
	ds_msg_bytes(&m, key_id, DS_HASH_LEN);
	ds_msg_int64(&m, ds_ts_to_unix_us(since));
	ds_msg_int64(&m, ds_ts_to_unix_us(now));
	ds_msg_bytes(&m, signer->key_id, DS_HASH_LEN);
	if (!ds_msg_ok(&m) || !ds_signer_sign(signer, msgbuf, m.len, sig))
		elog(ERROR, "could not sign key revocation");

	values[1] = TimestampTzGetDatum(since);
	values[2] = CStringGetTextDatum(reason);
	values[3] = ds_bytea_datum(msgbuf, m.len);
	values[4] = ds_bytea_datum(sig, DS_SIG_LEN);
	values[5] = ds_bytea_datum(signer->key_id, DS_HASH_LEN);
	values[6] = TimestampTzGetDatum(now);
	if (ds_spi_exec("UPDATE dataspace.node_key SET revoked_at = $7, compromised_since = $2,"
					" revocation_reason = $3, revocation = $4, revocation_signature = $5,"
					" revocation_key_id = $6, retired_at = COALESCE(retired_at, $7)"
					" WHERE key_id OPERATOR(pg_catalog.=) $1 AND revoked_at IS NULL",
					7, types, values, NULL, false, 1) != 1)
		elog(ERROR, "key %s was revoked meanwhile", ds_hex(key_id, DS_HASH_LEN));
	ds_audit_append("key.revoke", ds_hex(key_id, DS_HASH_LEN),
					ds_audit_json(3, "compromised_since",
								  DatumGetCString(DirectFunctionCall1(timestamptz_out,
																	  TimestampTzGetDatum(since))),
								  "reason", reason,
								  "current_key_id", ds_hex(signer->key_id, DS_HASH_LEN)));
	SPI_finish();
	ereport(LOG,
			(errmsg("revoked dataspace key %s of node \"%s\"",
					ds_hex(key_id, DS_HASH_LEN), node.name)));
	PG_RETURN_DATUM(ds_bytea_datum(signer->key_id, DS_HASH_LEN));
}

/*
 * dataspace.adopt_node(rekey boolean) returns uuid
 *		Bind the identity to this database system and database: for a node
 *		that was moved here (restore, upgrade).  With rekey, also make a new
 *		signing key, so that a copy stops sharing the original's key.
 *		Superuser only.
 */
Datum
dataspace_adopt_node(PG_FUNCTION_ARGS)
{
	bool		rekey = PG_GETARG_BOOL(0);
	DsNode		node;
	Oid			types[4] = {UUIDOID, TEXTOID, OIDOID, NAMEOID};
	Datum		values[4];
	uint8		key_id[DS_HASH_LEN];

	lock_node_identity();
	if (!ds_node_load(&node))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this database has no node identity to adopt"),
				 errdetail("The table dataspace.node is empty: no identity was created in this database or restored into it."),
				 errhint("Use dataspace.init_node() to create one.")));
	values[0] = ds_uuid_datum(node.node_id);
	values[1] = CStringGetTextDatum(system_identifier_text());
	values[2] = ObjectIdGetDatum(MyDatabaseId);
	values[3] = DirectFunctionCall1(namein, CStringGetDatum(get_database_name(MyDatabaseId)));
	SPI_connect();
	ds_spi_exec("UPDATE dataspace.node SET system_identifier = $2, database_oid = $3,"
				" database_name = $4 WHERE node_id OPERATOR(pg_catalog.=) $1",
				4, types, values, NULL, false, 1);
	if (rekey)
		rotate_key(node.node_id, true, key_id);
	SPI_finish();
	ereport(LOG,
			(errmsg("dataspace node \"%s\" adopted by database \"%s\"%s",
					node.name, get_database_name(MyDatabaseId),
					rekey ? " with a new key" : "")));
	PG_RETURN_DATUM(ds_uuid_datum(node.node_id));
}

/*
 * ds_provider_seal_key
 *		The public key a seal of another node (provider) verifies under,
 *		given the key its contract pins.  That is the pinned key itself, or
 *		a later key of the provider's chain of announcements that the
 *		hub-sync worker checked (dataspace.participant_key, starting from a
 *		key this node held) and that was current when the seal was made: a
 *		provider that rotates keeps delivering under an existing contract.
 *		*revoked tells whether the key was revoked with compromised_since at
 *		or before sealed_at.  False if the seal's key is neither.  Call
 *		within SPI.
 */
bool
ds_provider_seal_key(const uint8 provider[DS_UUID_LEN], const uint8 pinned_kid[DS_HASH_LEN],
					 const uint8 pinned_pk[DS_PUBKEY_LEN], const uint8 key_id[DS_HASH_LEN],
					 int64 sealed_at_us, uint8 pk_out[DS_PUBKEY_LEN], bool *revoked)
{
	const DsKey *k = ds_keyring_find(ds_party_keys(provider, pinned_kid), key_id);
	TimestampTz at = ds_unix_us_to_ts(sealed_at_us);
	bool		same = memcmp(pinned_kid, key_id, DS_HASH_LEN) == 0;

	*revoked = false;
	if (k == NULL)
	{
		if (!same)
			return false;
		memcpy(pk_out, pinned_pk, DS_PUBKEY_LEN);
		return true;
	}

	/*
	 * The pinned key is the contract's, whatever the cache holds, and
	 * counts whenever the seal was made (a node seals before it joins a
	 * hub); a later key only for seals made while it was current.
	 */
	if (same ? memcmp(k->public_key, pinned_pk, DS_PUBKEY_LEN) != 0 :
		(at < k->created_at || at >= k->retired_at))
		return false;
	memcpy(pk_out, k->public_key, DS_PUBKEY_LEN);
	*revoked = k->revoked && k->compromised_since <= at;
	return true;
}

/*
 * ds_party_signed
 *		Does sig over msg verify under a key another node (party) could
 *		sign with at time at_us, under a contract that pins pinned_kid?
 *		Where the party's chain of announcements is held here
 *		(dataspace.participant_key, as the hub-sync worker checked it), the
 *		keys are the pinned one and those after it that were current then,
 *		less any revoked as compromised at or before then: after a rotation
 *		the new key signs, and the retired or stolen one signs nothing that
 *		counts.  Without the chain, the pinned key alone.  For messages that
 *		do not name their key (a consumer's challenge answers and delivery
 *		receipts), so each candidate is tried, newest first.  Call within
 *		SPI.
 */
bool
ds_party_signed(const uint8 party[DS_UUID_LEN], const uint8 pinned_kid[DS_HASH_LEN],
				const uint8 pinned_pk[DS_PUBKEY_LEN], int64 at_us,
				const uint8 *msg, size_t len, const uint8 sig[DS_SIG_LEN])
{
	DsKeyring  *ring = ds_party_keys(party, pinned_kid);
	TimestampTz at = ds_unix_us_to_ts(at_us);

	if (ring->nkeys == 0)
		return ds_ed25519_verify(pinned_pk, msg, len, sig);
	for (int i = 0; i < ring->nkeys; i++)
	{
		const DsKey *k = &ring->keys[i];

		if (!key_valid_at(k, at))
			continue;
		/* the pinned key is the contract's, whatever the cache holds */
		if (memcmp(k->key_id, pinned_kid, DS_HASH_LEN) == 0 &&
			memcmp(k->public_key, pinned_pk, DS_PUBKEY_LEN) != 0)
			continue;
		if (ds_ed25519_verify(k->public_key, msg, len, sig))
			return true;
	}
	return false;
}
