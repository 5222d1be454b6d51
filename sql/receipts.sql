-- Delivery receipts: what one node shows of them.  export_receipt takes a
-- receipt only in a session that answered a challenge for the contract;
-- verify_receipts needs a contract this node provides; the kept receipts
-- and the outbox are never deleted; abandoning unsent receipts needs a
-- reason and an administrator; who may call and read what.
SET timezone = 'UTC';

SELECT dataspace.export_receipt('00000000-0000-4000-8000-00000000ee01', '\x00', '\x00');
SELECT * FROM dataspace.verify_receipts('00000000-0000-4000-8000-00000000ee01');

DELETE FROM dataspace.delivery_receipt;
UPDATE dataspace.delivery_receipt SET points = 0;
TRUNCATE dataspace.delivery_receipt;
DELETE FROM dataspace.receipt_outbox;
TRUNCATE dataspace.receipt_outbox;

-- abandoning: a reason is needed; nothing unsent, nothing abandoned
SELECT dataspace.abandon_receipts('00000000-0000-4000-8000-00000000ee01', '  ');
SELECT dataspace.abandon_receipts('00000000-0000-4000-8000-00000000ee01', 'provider gone') AS abandoned;

CREATE ROLE regress_receipt_nobody;
CREATE ROLE regress_receipt_reader IN ROLE dataspace_reader;
CREATE ROLE regress_receipt_export IN ROLE dataspace_export;

SET ROLE regress_receipt_nobody;
SELECT count(*) FROM dataspace.delivery_receipt;
SELECT count(*) FROM dataspace.receipt_outbox;
SELECT * FROM dataspace.verify_receipts('00000000-0000-4000-8000-00000000ee01');
SELECT dataspace.export_receipt('00000000-0000-4000-8000-00000000ee01', '\x00', '\x00');
RESET ROLE;

SET ROLE regress_receipt_reader;
SELECT count(*) FROM dataspace.delivery_receipt;
SELECT count(*) FROM dataspace.receipt_outbox;
SELECT dataspace.export_receipt('00000000-0000-4000-8000-00000000ee01', '\x00', '\x00');
SELECT dataspace.abandon_receipts('00000000-0000-4000-8000-00000000ee01', 'provider gone');
RESET ROLE;

SET ROLE regress_receipt_export;
SELECT count(*) FROM dataspace.delivery_receipt;
SELECT * FROM dataspace.verify_receipts('00000000-0000-4000-8000-00000000ee01');
SELECT dataspace.export_receipt('00000000-0000-4000-8000-00000000ee01', '\x00', '\x00');
RESET ROLE;

DROP ROLE regress_receipt_nobody, regress_receipt_reader, regress_receipt_export;
