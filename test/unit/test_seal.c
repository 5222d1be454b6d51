/*-------------------------------------------------------------------------
 *
 * test_seal.c
 *		Known answers for src/seal.c from outside the project.
 *
 * Runs the code the extension seals with against published vectors: RFC
 * 8032 section 7.1 (Ed25519), FIPS 180-2 (SHA-256), RFC 6962 / RFC 9162
 * (Merkle tree hashes, computed here a second way), and the test vectors
 * of docs/encoding.md (nonce, leaf, Merkle root, whole seal).  There is no
 * SQL-callable signing function, so signing is tested here, in C.
 *
 * Output is TAP: "ok N - name" or "not ok N - name", then "1..N".  The
 * exit status is 1 if any test failed.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "proof.h"
#include "seal.h"
#include "witness.h"

static int	ntests = 0;
static int	nfailed = 0;

/*
 * ok
 *		Report one test in TAP form.
 */
static void
ok(bool cond, const char *name)
{
	ntests++;
	if (!cond)
		nfailed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntests, name);
}

/*
 * unhex
 *		Decode a hex literal of a known test vector; aborts on a typo, which
 *		would otherwise look like a failure of the code under test.
 */
static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t		len = strlen(hex);

	if (len % 2 != 0 || len / 2 > cap || !ds_hex_decode(hex, len, out, len / 2))
	{
		fprintf(stderr, "bad hex literal in test: %.40s...\n", hex);
		exit(2);
	}
	return len / 2;
}

/* Compare bytes with an expected hex literal. */
static bool
eq_hex(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t		want[2048];

	return unhex(hex, want, sizeof(want)) == len && memcmp(got, want, len) == 0;
}

/* ---------------------------------------------------------------------
 * SHA-256 (FIPS 180-2, appendix B)
 * ---------------------------------------------------------------------
 */
static void
test_sha256(ds_hasher *h)
{
	uint8_t		d[DS_HASH_LEN];
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	ok(ds_sha256(h, "abc", 3, d) &&
	   eq_hex(d, DS_HASH_LEN, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "SHA-256 of \"abc\" (FIPS 180-2 B.1)");
	ok(ds_sha256(h, "", 0, d) &&
	   eq_hex(d, DS_HASH_LEN, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	   "SHA-256 of the empty string");
	ok(strlen(m448) == 56 && ds_sha256(h, m448, strlen(m448), d) &&
	   eq_hex(d, DS_HASH_LEN, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
	   "SHA-256 of the 448-bit message (FIPS 180-2 B.2)");
	/* the hasher is reused: a second hash does not depend on the first */
	ok(ds_sha256(h, "abc", 3, d) && ds_sha256(h, "abc", 3, d) &&
	   eq_hex(d, DS_HASH_LEN, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "SHA-256 with a reused context");

	/*
	 * The hasher calls the provider's SHA-256 functions directly (OpenSSL
	 * 3's default provider has them); every length around the block
	 * boundaries and the lengths hashed when sealing (57 and 65 bytes)
	 * must give what OpenSSL's one-shot EVP_Digest gives.
	 */
	ok(ds_hasher_is_direct(h), "SHA-256 through the provider's functions");
	{
		uint8_t		in[300];
		uint8_t		want[DS_HASH_LEN];
		unsigned int wlen;
		bool		same = true;

		for (size_t i = 0; i < sizeof(in); i++)
			in[i] = (uint8_t) (i * 151 + 7);
		for (size_t len = 0; len <= sizeof(in); len++)
			same = same && ds_sha256(h, in, len, d) &&
				EVP_Digest(in, len, want, &wlen, EVP_sha256(), NULL) == 1 &&
				wlen == DS_HASH_LEN && memcmp(d, want, DS_HASH_LEN) == 0;
		ok(same, "SHA-256 equals EVP_Digest for every length from 0 to 300 bytes");
	}
}

/* ---------------------------------------------------------------------
 * Ed25519 (RFC 8032 section 7.1)
 * ---------------------------------------------------------------------
 */
typedef struct ed25519_vector
{
	const char *name;
	const char *secret;
	const char *pub;
	const char *message;
	const char *signature;
} ed25519_vector;

static const char rfc8032_test1024_message[] =
	"08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
	"fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
	"79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
	"658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
	"1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
	"ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
	"06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
	"efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
	"aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
	"85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
	"d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
	"554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
	"88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
	"2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
	"07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
	"b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
	"ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
	"c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
	"51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
	"42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
	"ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
	"f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
	"d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
	"de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
	"88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
	"2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
	"6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
	"b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
	"0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
	"369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
	"b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
	"0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0";

static const ed25519_vector rfc8032[] = {
	{
		"TEST 1",
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		"",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		"5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	},
	{
		"TEST 2",
		"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		"72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		"085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
	},
	{
		"TEST 3",
		"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		"af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
		"18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
	},
	{
		"TEST 1024",
		"f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
		"278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
		rfc8032_test1024_message,
		"0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
		"aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"
	},
	{
		"TEST SHA(abc)",
		"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
		"ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
		"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
		"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
		"dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
		"09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
	}
};

/*
 * test_ed25519_vector
 *		Key derivation, signing byte for byte, verification, and rejection
 *		of a changed message, signature or key, for one RFC 8032 vector.
 */
static void
test_ed25519_vector(const ed25519_vector *v)
{
	uint8_t		priv[DS_PRIVKEY_LEN];
	uint8_t		pub[DS_PUBKEY_LEN];
	uint8_t		want_pub[DS_PUBKEY_LEN];
	uint8_t		msg[1100];
	uint8_t		want_sig[DS_SIG_LEN];
	uint8_t		sig[DS_SIG_LEN];
	uint8_t		bad[1100];
	size_t		len;
	size_t		badlen;
	char		name[128];

	unhex(v->secret, priv, sizeof(priv));
	unhex(v->pub, want_pub, sizeof(want_pub));
	len = unhex(v->message, msg, sizeof(msg));
	unhex(v->signature, want_sig, sizeof(want_sig));

	snprintf(name, sizeof(name), "RFC 8032 %s: public key from the secret key", v->name);
	ok(ds_ed25519_public(priv, pub) && memcmp(pub, want_pub, DS_PUBKEY_LEN) == 0, name);

	snprintf(name, sizeof(name), "RFC 8032 %s: signature byte for byte", v->name);
	ok(ds_ed25519_sign(priv, msg, len, sig) && memcmp(sig, want_sig, DS_SIG_LEN) == 0, name);

	snprintf(name, sizeof(name), "RFC 8032 %s: verify accepts", v->name);
	ok(ds_ed25519_verify(want_pub, msg, len, want_sig), name);

	/* an empty message has no bit to flip: append a byte instead */
	memcpy(bad, msg, len);
	if (len > 0)
	{
		bad[len / 2] ^= 0x01;
		badlen = len;
	}
	else
	{
		bad[0] = 0x00;
		badlen = 1;
	}
	snprintf(name, sizeof(name), "RFC 8032 %s: verify rejects a changed message", v->name);
	ok(!ds_ed25519_verify(want_pub, bad, badlen, want_sig), name);

	memcpy(sig, want_sig, DS_SIG_LEN);
	sig[DS_SIG_LEN - 1] ^= 0x01;
	snprintf(name, sizeof(name), "RFC 8032 %s: verify rejects a flipped signature bit", v->name);
	ok(!ds_ed25519_verify(want_pub, msg, len, sig), name);

	memcpy(pub, want_pub, DS_PUBKEY_LEN);
	pub[0] ^= 0x01;
	snprintf(name, sizeof(name), "RFC 8032 %s: verify rejects a flipped key bit", v->name);
	ok(!ds_ed25519_verify(pub, msg, len, want_sig), name);
}

/*
 * test_ed25519_keygen
 *		A generated key pair is consistent and signs verifiably.
 */
static void
test_ed25519_keygen(void)
{
	uint8_t		priv[DS_PRIVKEY_LEN];
	uint8_t		pub[DS_PUBKEY_LEN];
	uint8_t		pub2[DS_PUBKEY_LEN];
	uint8_t		sig[DS_SIG_LEN];

	ok(ds_ed25519_keygen(pub, priv) && ds_ed25519_public(priv, pub2) &&
	   memcmp(pub, pub2, DS_PUBKEY_LEN) == 0 &&
	   ds_ed25519_sign(priv, (const uint8_t *) "seal", 4, sig) &&
	   ds_ed25519_verify(pub, (const uint8_t *) "seal", 4, sig),
	   "generated key pair: public key matches, signature verifies");
}

/* ---------------------------------------------------------------------
 * RFC 6962 Merkle tree hash, computed a second way
 * ---------------------------------------------------------------------
 */

/*
 * ref_mth
 *		MTH(D[0:n]) by the recursive definition of RFC 9162 section 2.1.1,
 *		hashing the prefixed byte strings directly (no ds_node_hash).
 */
static void
ref_mth(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN], size_t n,
		uint8_t out[DS_HASH_LEN])
{
	uint8_t		buf[1 + 2 * DS_HASH_LEN];
	size_t		k = 1;

	if (n == 1)
	{
		memcpy(out, leaves[0], DS_HASH_LEN);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	buf[0] = 0x01;
	ref_mth(h, leaves, k, buf + 1);
	ref_mth(h, leaves + k, n - k, buf + 1 + DS_HASH_LEN);
	if (!ds_sha256(h, buf, sizeof(buf), out))
		memset(out, 0, DS_HASH_LEN);
}

static bool
builder_root(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN], size_t n,
			 uint8_t out[DS_HASH_LEN])
{
	ds_merkle	m;

	ds_merkle_init(&m);
	for (size_t i = 0; i < n; i++)
		if (!ds_merkle_add(h, &m, leaves[i]))
			return false;
	return ds_merkle_root(h, &m, out);
}

static void
test_merkle(ds_hasher *h)
{
	uint8_t		leaves[17][DS_HASH_LEN];
	uint8_t		buf[1 + 2 * DS_HASH_LEN];
	uint8_t		a[DS_HASH_LEN];
	uint8_t		b[DS_HASH_LEN];
	uint8_t		root[DS_HASH_LEN];
	ds_merkle	m;
	bool		all;
	static const size_t sizes[] = {3, 5, 7};

	/* leaf i: the RFC 6962 leaf hash of the one-byte entry i */
	for (int i = 0; i < 17; i++)
	{
		uint8_t		entry[2] = {0x00, (uint8_t) i};

		ds_sha256(h, entry, 2, leaves[i]);
	}

	/* RFC 6962: the hash of an empty list is SHA-256 of the empty string */
	ds_merkle_init(&m);
	ok(!ds_merkle_root(h, &m, root),
	   "Merkle: an empty tree has no root (a seal covers at least one point)");
	ok(ds_sha256(h, "", 0, a) &&
	   eq_hex(a, DS_HASH_LEN, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	   "Merkle: RFC 6962 MTH({}) = SHA-256() known answer");

	/* RFC 6962 leaf of an empty entry: SHA-256(0x00) */
	buf[0] = 0x00;
	ok(ds_sha256(h, buf, 1, a) &&
	   eq_hex(a, DS_HASH_LEN, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
	   "Merkle: RFC 6962 leaf hash of the empty entry, SHA-256(0x00)");

	ok(builder_root(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, 1, root) &&
	   memcmp(root, leaves[0], DS_HASH_LEN) == 0,
	   "Merkle: the root of one leaf is that leaf's hash");

	/* interior nodes are SHA-256(0x01 || left || right) */
	buf[0] = 0x01;
	memcpy(buf + 1, leaves[0], DS_HASH_LEN);
	memcpy(buf + 1 + DS_HASH_LEN, leaves[1], DS_HASH_LEN);
	ds_sha256(h, buf, sizeof(buf), a);
	ok(ds_node_hash(h, leaves[0], leaves[1], b) && memcmp(a, b, DS_HASH_LEN) == 0,
	   "Merkle: interior node is SHA-256(0x01 || left || right)");
	ds_sha256(h, buf + 1, 2 * DS_HASH_LEN, a);
	ok(memcmp(a, b, DS_HASH_LEN) != 0,
	   "Merkle: interior node differs from the unprefixed hash");

	/* a leaf hash is SHA-256(0x00 || its 56 bytes); an interior node cannot collide with it */
	{
		uint8_t		asset[DS_UUID_LEN] = {0};
		uint8_t		nonce[DS_NONCE_LEN] = {0};
		uint8_t		in[57] = {0};

		ds_leaf_hash(h, asset, 0, 0, 0.0, nonce, a);
		ds_sha256(h, in, sizeof(in), b);
		ok(memcmp(a, b, DS_HASH_LEN) == 0,
		   "Merkle: leaf is SHA-256(0x00 || 56 bytes), all zero here");
		in[0] = 0x01;
		ds_sha256(h, in, sizeof(in), b);
		ok(memcmp(a, b, DS_HASH_LEN) != 0,
		   "Merkle: the same bytes under the interior prefix hash differently");
	}

	for (int s = 0; s < 3; s++)
	{
		size_t		n = sizes[s];
		char		name[128];

		ref_mth(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, a);
		snprintf(name, sizeof(name), "Merkle: unbalanced %zu-leaf tree matches MTH computed independently", n);
		ok(builder_root(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, root) &&
		   memcmp(root, a, DS_HASH_LEN) == 0, name);

		/* every audit path leads to that root, and a changed one does not */
		all = true;
		for (size_t i = 0; i < n; i++)
		{
			uint8_t		path[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
			int			len = -1;

			if (!ds_merkle_path(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, i, path, &len) ||
				len != ds_merkle_path_length(i, n) ||
				!ds_merkle_verify_path(h, leaves[i], i, n,
									   (const uint8_t (*)[DS_HASH_LEN]) path, len, a))
				all = false;
			path[0][0] ^= 0x01;
			if (ds_merkle_verify_path(h, leaves[i], i, n,
									  (const uint8_t (*)[DS_HASH_LEN]) path, len, a))
				all = false;
		}
		snprintf(name, sizeof(name), "Merkle: every audit path of the %zu-leaf tree verifies, a changed one fails", n);
		ok(all, name);
	}

	/* the same for every size up to 17 */
	all = true;
	for (size_t n = 1; n <= 17; n++)
	{
		ref_mth(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, a);
		if (!builder_root(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, root) ||
			memcmp(root, a, DS_HASH_LEN) != 0)
			all = false;
	}
	ok(all, "Merkle: incremental root equals MTH for every size 1 to 17");
}

/* ---------------------------------------------------------------------
 * The test vectors published in docs/encoding.md
 * ---------------------------------------------------------------------
 */
typedef struct doc_point
{
	int64_t		seq;
	int64_t		ts_us;
	double		value;
	const char *nonce;
	const char *leaf_input;
	const char *leaf;
} doc_point;

static const doc_point doc_points[] = {
	{
		1, INT64_C(1780272000000000), 21.5,
		"a1788ea518a8c300cbcfe0e497b7bcb9",
		"00000000000000400080000000000000a1000000000000000100065325e029e000"
		"4035800000000000a1788ea518a8c300cbcfe0e497b7bcb9",
		"f7b120a8a8208d1d0ffe6a664c4ecae5d73c38e099cb5773ce10d84511d1024b"
	},
	{
		2, INT64_C(1780272000000001), -0.0,
		"de3486cdfb5d0d9f6d8d0d992a9e45f8",
		"00000000000000400080000000000000a1000000000000000200065325e029e001"
		"0000000000000000de3486cdfb5d0d9f6d8d0d992a9e45f8",
		"4bbfd6994aef17724a5ffbb37ea2b9d437ace71ff69bdfc803f10203339521b1"
	},
	{
		5, INT64_C(-1), -1.5,
		"264e9b2d007154eded6755a17d8e1e0e",
		"00000000000000400080000000000000a10000000000000005ffffffffffffffff"
		"bff8000000000000264e9b2d007154eded6755a17d8e1e0e",
		"48ca56b945e284b3612d4e5f18f3ffe8c9c6baab5f7c1fe5edeb76ae51380844"
	}
};

#define DOC_NODE_ID		"000000000000400080000000000000d1"
#define DOC_NODE01		"df2c1f3bac3716dbe126a7a982c89b21c97c12a946bdf7bd04c95440ce0ec0e0"
#define DOC_ROOT		"795c8b17682980a31b1859c51c33348700630b798f8fa9fb0b9b20214caa73ec"
#define DOC_KEY_ID		"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
#define DOC_SEAL_MSG \
	"50474453010100000010000000000000400080000000000000d100000010000000" \
	"000000400080000000000000a100000008000000000000000100000020000000" \
	"0000000000000000000000000000000000000000000000000000000000000000" \
	"20795c8b17682980a31b1859c51c33348700630b798f8fa9fb0b9b20214caa73" \
	"ec00000008000000000000000300000008000000000000000100000008000000" \
	"000000000500000008ffffffffffffffff0000000800065325e029e001000000" \
	"0800065325e039224000000007656432353531390000002021fe31dfa154a261" \
	"626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
#define DOC_SEAL_HASH	"498b56f175ef465a9c3f830736b91769ba5eb9135376dde0a2b17fba3d987a8e"
#define DOC_SIGNATURE \
	"77f84b9f7dcaff51e1bcda2e78da72c461b8ca2e1a5af39f6d8220f13d61f8c9" \
	"d13e15a6387343e1a8079cbffca01ef8f0117dc47c9f5201d0d5d110fb78500b"

static void
test_doc_vectors(ds_hasher *h)
{
	uint8_t		seed[DS_SEED_LEN];
	uint8_t		asset[DS_UUID_LEN];
	uint8_t		leaves[3][DS_HASH_LEN];
	uint8_t		priv[DS_PRIVKEY_LEN];
	uint8_t		pub[DS_PUBKEY_LEN];
	uint8_t		msg[DS_SEAL_MSG_MAX];
	uint8_t		sig[DS_SIG_LEN];
	uint8_t		d[DS_HASH_LEN];
	size_t		len;
	ds_seal		s;

	for (int i = 0; i < DS_SEED_LEN; i++)
		seed[i] = (uint8_t) i;
	unhex("000000000000400080000000000000a1", asset, sizeof(asset));

	for (int i = 0; i < 3; i++)
	{
		const doc_point *p = &doc_points[i];
		uint8_t		nonce[DS_NONCE_LEN];
		uint8_t		in[64];
		char		name[128];

		snprintf(name, sizeof(name), "encoding.md: nonce of seq %lld", (long long) p->seq);
		ok(ds_leaf_nonce(h, seed, asset, p->seq, nonce) &&
		   eq_hex(nonce, DS_NONCE_LEN, p->nonce), name);

		/* the published leaf input hashes to the published leaf */
		snprintf(name, sizeof(name), "encoding.md: leaf input of seq %lld hashes to its leaf", (long long) p->seq);
		len = unhex(p->leaf_input, in, sizeof(in));
		ok(len == 57 && ds_sha256(h, in, len, d) && eq_hex(d, DS_HASH_LEN, p->leaf), name);

		snprintf(name, sizeof(name), "encoding.md: leaf of seq %lld", (long long) p->seq);
		ok(ds_leaf_hash(h, asset, p->seq, p->ts_us, p->value, nonce, leaves[i]) &&
		   eq_hex(leaves[i], DS_HASH_LEN, p->leaf), name);
	}
	ok(ds_value_bits(-0.0) == 0 && ds_value_bits(21.5) == UINT64_C(0x4035800000000000),
	   "encoding.md: -0 is sealed as +0; 21.5 is 0x4035800000000000");

	ok(ds_node_hash(h, leaves[0], leaves[1], d) && eq_hex(d, DS_HASH_LEN, DOC_NODE01),
	   "encoding.md: interior node of leaves 0 and 1");
	ok(builder_root(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, 3, d) &&
	   eq_hex(d, DS_HASH_LEN, DOC_ROOT),
	   "encoding.md: Merkle root of the three leaves");

	/* the whole seal, signed with the RFC 8032 TEST 1 key */
	unhex(rfc8032[0].secret, priv, sizeof(priv));
	ok(ds_ed25519_public(priv, pub) && ds_key_id(h, pub, d) &&
	   eq_hex(d, DS_HASH_LEN, DOC_KEY_ID),
	   "encoding.md: key id of the RFC 8032 TEST 1 public key");

	memset(&s, 0, sizeof(s));
	unhex(DOC_NODE_ID, s.node_id, sizeof(s.node_id));
	memcpy(s.asset_id, asset, DS_UUID_LEN);
	s.chain_pos = 1;
	unhex(DOC_ROOT, s.root, sizeof(s.root));
	s.point_count = 3;
	s.first_seq = 1;
	s.last_seq = 5;
	s.min_ts_us = -1;
	s.max_ts_us = INT64_C(1780272000000001);
	s.sealed_at_us = INT64_C(1780272001000000);
	unhex(DOC_KEY_ID, s.key_id, sizeof(s.key_id));

	len = ds_seal_message(&s, msg, sizeof(msg));
	ok(len == 249 && eq_hex(msg, len, DOC_SEAL_MSG),
	   "encoding.md: seal message, 249 bytes");
	ok(ds_seal_hash(h, &s, d) && eq_hex(d, DS_HASH_LEN, DOC_SEAL_HASH),
	   "encoding.md: seal hash");
	ok(ds_ed25519_sign(priv, msg, len, sig) && eq_hex(sig, DS_SIG_LEN, DOC_SIGNATURE),
	   "encoding.md: seal signature byte for byte");
	ok(ds_ed25519_verify(pub, msg, len, sig), "encoding.md: seal signature verifies");
	ok(ds_seal_message(&s, msg, 248) == 0, "seal message refuses a buffer one byte short");
	ds_wipe(priv, sizeof(priv));
}

/* ---------------------------------------------------------------------
 * Consistency proofs (src/witness.c)
 * ---------------------------------------------------------------------
 */

/*
 * ref_subproof
 *		RFC 6962 section 2.1.2 SUBPROOF(m, D[0:n], b), by the recursive
 *		definition, on ref_mth: a second implementation to compare with.
 */
static void
ref_subproof(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN], size_t m,
			 size_t n, bool b, uint8_t (*out)[DS_HASH_LEN], int *len)
{
	size_t		k = 1;

	if (m == n)
	{
		if (!b)
			ref_mth(h, leaves, n, out[(*len)++]);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	if (m <= k)
	{
		ref_subproof(h, leaves, m, k, b, out, len);
		ref_mth(h, leaves + k, n - k, out[(*len)++]);
	}
	else
	{
		ref_subproof(h, leaves + k, m - k, n - k, false, out, len);
		ref_mth(h, leaves, k, out[(*len)++]);
	}
}

/* The eight leaves of the RFC 6962 reference test data. */
static const char *const ct_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f"
};

typedef struct ct_consistency
{
	int			m;
	int			n;
	int			len;
	const char *proof[4];
} ct_consistency;

/* From the Certificate Transparency reference implementation's tests. */
static const ct_consistency ct_proofs[] = {
	{1, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{6, 8, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 5, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static void
test_consistency(ds_hasher *h)
{
	uint8_t		leaves[64][DS_HASH_LEN];
	uint8_t		proof[DS_CONSISTENCY_MAX][DS_HASH_LEN];
	uint8_t		ref[DS_CONSISTENCY_MAX][DS_HASH_LEN];
	uint8_t		roots[65][DS_HASH_LEN];
	bool		same = true;
	bool		verifies = true;
	bool		rejects = true;
	char		name[128];

	/* the RFC 6962 tree */
	for (int i = 0; i < 8; i++)
	{
		uint8_t		data[32];
		size_t		len = unhex(ct_leaves[i], data, sizeof(data));

		if (!ds_log_leaf_hash(h, data, len, leaves[i]))
			memset(leaves[i], 0, DS_HASH_LEN);
	}
	ok(ds_log_root(h, leaves, 8, roots[8]) &&
	   eq_hex(roots[8], DS_HASH_LEN, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
	   "RFC 6962 test tree: root of 8 leaves");
	for (size_t t = 0; t < sizeof(ct_proofs) / sizeof(ct_proofs[0]); t++)
	{
		const ct_consistency *c = &ct_proofs[t];
		int			len;
		bool		match;

		match = ds_merkle_consistency(h, (const uint8_t (*)[DS_HASH_LEN]) leaves,
									  c->m, c->n, proof, &len) && len == c->len;
		for (int i = 0; match && i < len; i++)
			match = eq_hex(proof[i], DS_HASH_LEN, c->proof[i]);
		snprintf(name, sizeof(name), "RFC 6962 test tree: consistency proof %d -> %d", c->m, c->n);
		ok(match, name);
		ok(ds_log_root(h, leaves, c->m, roots[c->m]) && ds_log_root(h, leaves, c->n, roots[c->n]) &&
		   ds_merkle_verify_consistency(h, c->m, c->n, roots[c->m], roots[c->n],
										(const uint8_t (*)[DS_HASH_LEN]) proof, len),
		   "  and verifies");
	}

	/* every pair of sizes up to 64, against the recursive definition */
	for (int i = 0; i < 64; i++)
	{
		uint8_t		b = (uint8_t) i;

		if (!ds_log_leaf_hash(h, &b, 1, leaves[i]))
			memset(leaves[i], 0, DS_HASH_LEN);
	}
	for (int n = 1; n <= 64; n++)
		ref_mth(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, roots[n]);
	for (int n = 1; n <= 64; n++)
		for (int m = 1; m <= n; m++)
		{
			int			len = 0;
			int			rlen = 0;

			if (!ds_merkle_consistency(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, m, n,
									   proof, &len))
			{
				same = false;
				continue;
			}
			ref_subproof(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, m, n, true, ref, &rlen);
			if (len != rlen || memcmp(proof, ref, (size_t) len * DS_HASH_LEN) != 0)
				same = false;
			if (!ds_merkle_verify_consistency(h, m, n, roots[m], roots[n],
											  (const uint8_t (*)[DS_HASH_LEN]) proof, len))
				verifies = false;
			/* a wrong old root, a wrong new root, a flipped proof byte */
			if (m < n)
			{
				uint8_t		bad[DS_HASH_LEN];

				memcpy(bad, roots[m], DS_HASH_LEN);
				bad[0] ^= 1;
				if (ds_merkle_verify_consistency(h, m, n, bad, roots[n],
												 (const uint8_t (*)[DS_HASH_LEN]) proof, len))
					rejects = false;
				memcpy(bad, roots[n], DS_HASH_LEN);
				bad[31] ^= 0x80;
				if (ds_merkle_verify_consistency(h, m, n, roots[m], bad,
												 (const uint8_t (*)[DS_HASH_LEN]) proof, len))
					rejects = false;
				for (int i = 0; i < len; i++)
				{
					proof[i][5] ^= 4;
					if (ds_merkle_verify_consistency(h, m, n, roots[m], roots[n],
													 (const uint8_t (*)[DS_HASH_LEN]) proof, len))
						rejects = false;
					proof[i][5] ^= 4;
				}
				/* a proof for other sizes */
				if (n < 64 && ds_merkle_verify_consistency(h, m, n + 1, roots[m], roots[n + 1],
														   (const uint8_t (*)[DS_HASH_LEN]) proof, len))
					rejects = false;
				if (ds_merkle_verify_consistency(h, m, n, roots[m], roots[n],
												 (const uint8_t (*)[DS_HASH_LEN]) proof, 0))
					rejects = false;
			}
		}
	ok(same, "consistency proofs equal RFC 6962 SUBPROOF for all 1 <= m <= n <= 64");
	ok(verifies, "and verify as RFC 9162 section 2.1.4.2 says");
	ok(rejects, "wrong roots, flipped bytes, other sizes and empty proofs are refused");
	ok(!ds_merkle_verify_consistency(h, 0, 5, roots[1], roots[5],
									 (const uint8_t (*)[DS_HASH_LEN]) proof, 0) &&
	   !ds_merkle_verify_consistency(h, 6, 5, roots[6], roots[5],
									 (const uint8_t (*)[DS_HASH_LEN]) proof, 0),
	   "an empty old tree or a shrinking tree is refused");
}

/* ---------------------------------------------------------------------
 * Witness messages: the vectors of docs/encoding.md
 * ---------------------------------------------------------------------
 */
static void
test_witness_messages(ds_hasher *h)
{
	ds_anchor	a;
	ds_anchor	back;
	ds_tree_head t;
	ds_tree_head tback;
	ds_audit_entry e;
	uint8_t		msg[512];
	uint8_t		big[1024];
	uint8_t		d[DS_HASH_LEN];
	size_t		len;

	memset(&a, 0, sizeof(a));
	for (int i = 0; i < DS_UUID_LEN; i++)
	{
		a.node_id[i] = (uint8_t) (0x10 + i);
		a.subject_id[i] = (uint8_t) (0xa0 + i);
	}
	strcpy(a.subject_kind, DS_ANCHOR_ASSET);
	a.head_pos = 3;
	memset(a.head_hash, 0x33, DS_HASH_LEN);
	a.covered = 12;
	a.last_ts_us = 1767225600000000LL;	/* 2026-01-01 00:00:00 UTC */
	a.anchored_at_us = 1767225601000000LL;
	len = ds_anchor_message(&a, msg, sizeof(msg));
	ok(eq_hex(msg, len, "50474453011100000010101112131415161718191a1b1c1d1e1f00000005617373657400000010a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00000008000000000000000300000020333333333333333333333333333333333333333333333333333333333333333300000008000000000000000c0000000800064748462040000000000800064748462f8240"), "encoding.md: anchor vector");
	ok(len == 139 && ds_anchor_decode(msg, len, &back) && memcmp(&a, &back, sizeof(a)) == 0,
	   "anchor message: 139 bytes, decodes to itself");
	ok(ds_log_leaf_hash(h, msg, len, d) &&
	   eq_hex(d, DS_HASH_LEN, "70f2b68e8aadf5f2b0951e7093731bb342c2bdd5a87737af1a838b72f83f2d52"),
	   "encoding.md: anchor leaf hash vector");
	msg[5] = DS_MSG_TREE_HEAD;
	ok(!ds_anchor_decode(msg, len, &back), "an anchor of another type is refused");

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < DS_UUID_LEN; i++)
		t.hub_id[i] = (uint8_t) (0xf0 + i % 16);
	t.tree_size = 8;
	memset(t.root, 0x5d, DS_HASH_LEN);
	t.signed_at_us = 1767225602000000LL;
	len = ds_tree_head_message(&t, msg, sizeof(msg));
	ok(eq_hex(msg, len, "50474453011200000010f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000080000000000000008000000205d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d0000000800064748463ec480"), "encoding.md: tree head vector");
	ok(len == 86 && ds_tree_head_decode(msg, len, &tback) && memcmp(&t, &tback, sizeof(t)) == 0,
	   "tree head message: 86 bytes, decodes to itself");

	memset(&e, 0, sizeof(e));
	memcpy(e.node_id, a.node_id, DS_UUID_LEN);
	e.seq = 1;
	e.at_us = 1767225600000000LL;
	e.actor = "postgres";
	e.event = "key.rotate";
	e.subject = "ab";
	e.detail = "{\"previous_key_id\": null}";
	memset(e.key_id, 0x44, DS_HASH_LEN);
	len = ds_audit_entry_message(&e, big, sizeof(big));
	ok(eq_hex(big, len, "50474453011000000010101112131415161718191a1b1c1d1e1f00000008000000000000000100000008000647484620400000000008706f7374677265730000000a6b65792e726f74617465000000026162000000197b2270726576696f75735f6b65795f6964223a206e756c6c7d000000200000000000000000000000000000000000000000000000000000000000000000000000204444444444444444444444444444444444444444444444444444444444444444"), "encoding.md: audit entry vector");
	ok(len == 6 + 9 * 4 + 16 + 8 + 8 + 8 + 10 + 2 + 25 + 32 + 32 && ds_sha256(h, big, len, d),
	   "audit entry message: fields in order");
	ok(eq_hex(d, DS_HASH_LEN, "77e6df5bfaf6c68ad37b3ed75df3389ce61b3d92907bf9a184f6dcbc530eb332"), "encoding.md: audit entry hash vector");
}

/*
 * Point proofs (src/proof.c): a proof of a real seal over points with gaps
 * in their seqs is valid; the same points under a seal whose signed seq
 * range is too narrow (root, path and signature all correct) are refused
 * by rule 3, since the leaf index no longer fits the seq.
 */
static void
make_proof(ds_hasher *h, const int64_t *seqs, size_t n, size_t k,
		   int64_t first_seq, int64_t last_seq, ds_proof *p)
{
	uint8_t		asset[DS_UUID_LEN] = {0x5e, 0x01};
	uint8_t		seed[DS_SEED_LEN] = {0x07};
	uint8_t		leaves[8][DS_HASH_LEN];
	uint8_t		nonces[8][DS_NONCE_LEN];
	uint8_t		priv[DS_PRIVKEY_LEN] = {0x42};
	uint8_t		msg[DS_SEAL_MSG_MAX];
	size_t		msglen;
	ds_seal    *s = &p->seal;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n; i++)
		if (!ds_leaf_nonce(h, seed, asset, seqs[i], nonces[i]) ||
			!ds_leaf_hash(h, asset, seqs[i], 1000000 * (int64_t) i, (double) i,
						  nonces[i], leaves[i]))
			return;
	memcpy(s->asset_id, asset, DS_UUID_LEN);
	s->chain_pos = 1;
	s->point_count = (int64_t) n;
	s->first_seq = first_seq;
	s->last_seq = last_seq;
	s->min_ts_us = 0;
	s->max_ts_us = 1000000 * (int64_t) (n - 1);
	if (!ds_merkle_path(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, k, p->path,
						&p->path_len) ||
		!ds_ed25519_public(priv, p->public_key) ||
		!ds_key_id(h, p->public_key, s->key_id))
		return;
	{
		ds_merkle	m;

		ds_merkle_init(&m);
		for (size_t i = 0; i < n; i++)
			(void) ds_merkle_add(h, &m, leaves[i]);
		(void) ds_merkle_root(h, &m, s->root);
	}
	msglen = ds_seal_message(s, msg, sizeof(msg));
	if (msglen == 0 || !ds_ed25519_sign(priv, msg, msglen, p->signature) ||
		!ds_sha256(h, msg, msglen, p->seal_hash))
		return;
	memcpy(p->asset_id, asset, DS_UUID_LEN);
	p->seq = seqs[k];
	p->ts_us = p->ts_text_us = 1000000 * (int64_t) k;
	p->value = (double) k;
	memcpy(p->nonce, nonces[k], DS_NONCE_LEN);
	memcpy(p->leaf_hash, leaves[k], DS_HASH_LEN);
	p->leaf_index = k;
}

static void
test_proof_rules(ds_hasher *h)
{
	static const int64_t seqs[5] = {10, 12, 15, 16, 30};
	ds_proof	p;
	char		why[256];

	for (size_t k = 0; k < 5; k++)
	{
		char		name[96];

		make_proof(h, seqs, 5, k, 10, 30, &p);
		snprintf(name, sizeof(name), "point proof: leaf %zu of a seal with seq gaps is valid", k);
		ok(ds_proof_check(h, &p, why, sizeof(why)) == DS_PROOF_VALID, name);
	}
	/*
	 * Seals whose signed seq range is too narrow for their leaves (root,
	 * path and signature all correct): leaf k cannot be where it is.
	 */
	{
		static const struct
		{
			size_t		k;
			int64_t		first_seq;
			int64_t		last_seq;
			const char *name;
		}			narrow[] = {
			{1, 12, 30, "point proof: a seal whose first_seq is too high is refused (leaf index)"},
			{3, 10, 16, "point proof: a seal whose last_seq is too low is refused (leaf index)"},
			{0, 9, 30, "point proof: leaf 0 must be at first_seq"},
			{4, 10, 31, "point proof: the last leaf must be at last_seq"},
		};

		for (size_t t = 0; t < sizeof(narrow) / sizeof(narrow[0]); t++)
		{
			make_proof(h, seqs, 5, narrow[t].k, narrow[t].first_seq, narrow[t].last_seq, &p);
			ok(ds_proof_check(h, &p, why, sizeof(why)) == DS_PROOF_INVALID &&
			   strstr(why, "does not fit") != NULL, narrow[t].name);
		}
	}
}

/*
 * Seal spans (src/seal.c): the members of a seal as they come, against its
 * signed seq and time ranges.  The seal has five leaves, seqs 10, 12, 15,
 * 16, 30 at times 0..4 s.
 */
static bool
span_of(const ds_seal *s, const int64_t *seqs, const int64_t *ts, size_t n, bool all_seen)
{
	ds_seal_span sp = {0};

	for (size_t i = 0; i < n; i++)
		ds_seal_span_add(&sp, s, i, seqs[i], ts[i]);
	return ds_seal_span_matches(&sp, s, all_seen);
}

static void
test_seal_span(void)
{
	static const int64_t seqs[5] = {10, 12, 15, 16, 30};
	static const int64_t ts[5] = {0, 1000000, 2000000, 3000000, 4000000};
	static const int64_t ts_late[5] = {0, 1000000, 2000000, 3000000, 4000001};
	static const int64_t ts_inner[5] = {1, 1000000, 2000000, 3000000, 4000000};
	ds_seal		s = {.point_count = 5, .first_seq = 10, .last_seq = 30,
	.min_ts_us = 0, .max_ts_us = 4000000};
	ds_seal		wide = s;
	ds_seal		narrow = s;

	ok(span_of(&s, seqs, ts, 5, true), "seal span: five members that fill the signed ranges match");
	ok(!span_of(&s, seqs + 1, ts + 1, 1, false),
	   "seal span: a first leaf not at first_seq does not");
	ok(!span_of(&s, seqs, ts_late, 5, true), "seal span: a member after max_ts does not");
	ok(!span_of(&s, seqs, ts_inner, 5, true),
	   "seal span: with every leaf seen, an earliest time after min_ts does not");
	ok(span_of(&s, seqs, ts_inner, 4, false),
	   "seal span: with leaves withheld, members inside the ranges do");
	wide.last_seq = 31;
	ok(!span_of(&wide, seqs, ts, 5, true), "seal span: a last leaf not at last_seq does not");
	narrow.first_seq = 11;
	ok(!span_of(&narrow, seqs, ts, 5, true), "seal span: a member before first_seq does not");
	ok(span_of(&s, (const int64_t[]) {10, 11, 12, 13, 30}, ts, 5, true),
	   "seal span: any seqs in order that leave room for the leaves around them do");
	ok(!span_of(&s, (const int64_t[]) {10, 28, 29, 30, 30}, ts, 5, true),
	   "seal span: a leaf with too little room after it does not");
}

/* Stored nodes in memory, for test_log_nodes: level l holds 2^(7 - l) nodes. */
#define NODES_LEAVES 128
typedef struct MemNodes
{
	uint8_t		hash[8][NODES_LEAVES][DS_HASH_LEN];
	bool		set[8][NODES_LEAVES];
	int			gets;
} MemNodes;

static bool
mem_get(void *arg, int level, uint64_t index, uint8_t out[DS_HASH_LEN])
{
	MemNodes   *m = arg;

	m->gets++;
	if (level < 0 || level >= 8 || index >= NODES_LEAVES || !m->set[level][index])
		return false;
	memcpy(out, m->hash[level][index], DS_HASH_LEN);
	return true;
}

static bool
mem_put(void *arg, int level, uint64_t index, const uint8_t hash[DS_HASH_LEN])
{
	MemNodes   *m = arg;

	if (level < 0 || level >= 8 || index >= NODES_LEAVES || m->set[level][index])
		return false;
	memcpy(m->hash[level][index], hash, DS_HASH_LEN);
	m->set[level][index] = true;
	return true;
}

/*
 * The hub's anchor log as stored nodes (ds_log_nodes_*): appended leaf by
 * leaf, every root, consistency proof and inclusion path of every size up
 * to 128 equals the one made from the array of all leaves, and a root
 * reads O(log n) nodes.
 */
static void
test_log_nodes(ds_hasher *h)
{
	static MemNodes mem;
	uint8_t		leaves[NODES_LEAVES][DS_HASH_LEN];
	ds_log_nodes nodes = {h, mem_get, mem_put, &mem};
	bool		appends = true;
	bool		roots = true;
	bool		proofs = true;
	bool		paths = true;
	int			most_gets = 0;

	memset(&mem, 0, sizeof(mem));
	for (int n = 1; n <= NODES_LEAVES; n++)
	{
		uint8_t		b[2] = {(uint8_t) n, 0x5a};
		uint8_t		root[DS_HASH_LEN];
		uint8_t		ref[DS_HASH_LEN];

		if (!ds_log_leaf_hash(h, b, sizeof(b), leaves[n - 1]) ||
			!mem_put(&mem, 0, n - 1, leaves[n - 1]) ||
			!ds_log_nodes_append(&nodes, n - 1, leaves[n - 1]))
		{
			appends = false;
			break;
		}
		mem.gets = 0;
		if (!ds_log_nodes_subtree(&nodes, 0, n, root) ||
			!ds_log_root(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, ref) ||
			memcmp(root, ref, DS_HASH_LEN) != 0)
			roots = false;
		if (mem.gets > most_gets)
			most_gets = mem.gets;
		for (int m = 1; m <= n; m++)
		{
			uint8_t		p1[DS_CONSISTENCY_MAX][DS_HASH_LEN];
			uint8_t		p2[DS_CONSISTENCY_MAX][DS_HASH_LEN];
			int			l1 = -1;
			int			l2 = -2;

			if (!ds_merkle_consistency_from(ds_log_nodes_subtree, &nodes, m, n, p1, &l1) ||
				!ds_merkle_consistency(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, m, n, p2, &l2) ||
				l1 != l2 || memcmp(p1, p2, (size_t) l1 * DS_HASH_LEN) != 0)
				proofs = false;
		}
		for (int i = 0; i < n; i++)
		{
			uint8_t		p1[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
			uint8_t		p2[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
			int			l1 = -1;
			int			l2 = -2;

			if (!ds_merkle_path_from(ds_log_nodes_subtree, &nodes, n, i, p1, &l1) ||
				!ds_merkle_path(h, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, i, p2, &l2) ||
				l1 != l2 || memcmp(p1, p2, (size_t) l1 * DS_HASH_LEN) != 0)
				paths = false;
		}
	}
	ok(appends, "anchor log nodes: 128 appends store the nodes each leaf completes");
	{
		int			stored = 0;

		for (int l = 1; l < 8; l++)
			for (int i = 0; i < NODES_LEAVES; i++)
				stored += mem.set[l][i];
		ok(appends && stored == NODES_LEAVES - 1 && mem.set[7][0],
		   "  127 nodes above the leaves, one per complete subtree, up to the root");
	}
	ok(roots, "  every root equals the root of the leaf array");
	ok(most_gets <= 2 * 8, "  a root reads at most 2 log n nodes");
	ok(proofs, "  every consistency proof equals the one from the leaf array");
	ok(paths, "  every inclusion path equals the one from the leaf array");
	ok(!ds_log_nodes_append(&nodes, 1, leaves[1]), "  a node stored twice is refused by the store");
}

int
main(void)
{
	ds_hasher  *h = ds_hasher_new();

	if (h == NULL)
	{
		printf("Bail out! could not set up SHA-256\n");
		return 1;
	}
	test_sha256(h);
	for (size_t i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++)
		test_ed25519_vector(&rfc8032[i]);
	test_ed25519_keygen();
	test_merkle(h);
	test_doc_vectors(h);
	test_consistency(h);
	test_log_nodes(h);
	test_witness_messages(h);
	test_proof_rules(h);
	test_seal_span();
	ds_hasher_free(h);

	printf("1..%d\n", ntests);
	return nfailed == 0 ? 0 : 1;
}
