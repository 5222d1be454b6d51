-- One point per transaction into a sealed asset; :asset is given with -D.
INSERT INTO dataspace.point (asset_id, ts, value) VALUES (:asset, now(), random());
