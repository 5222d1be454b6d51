-- The same row into the plain baseline table (identity seq, primary key).
INSERT INTO bench_plain (asset_id, ts, value) VALUES (:asset, now(), random());
