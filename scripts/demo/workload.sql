-- A short write workload for the quickstart: inserts, updates (one changes a
-- TOASTed description's neighbour only), deletes, in a few transactions.
BEGIN;
INSERT INTO customers (email, name, country, preferences)
SELECT 'new' || g || '@example.com', 'New customer ' || g, 'DE', '{"newsletter": true}'
FROM generate_series(1, 200) g;
UPDATE products SET stock = stock - 1, price = price * 1.05 WHERE sku <= 'SKU-00050';
COMMIT;

BEGIN;
UPDATE orders SET status = 'shipped', ship_by = NULL WHERE status = 'paid' AND placed_at < '2024-06-10';
DELETE FROM orders WHERE status = 'cancelled' OR placed_at > '2024-07-05';
INSERT INTO orders (id, customer_id, sku, quantity, total, placed_at)
SELECT md5('late' || g)::uuid, 1 + g % 1000, 'SKU-00001', 1, 2.36, timestamp '2024-07-10 12:00' + g * interval '1 minute'
FROM generate_series(1, 300) g;
COMMIT;

-- Only the stock changes; the long description is not re-sent (TOAST) and must survive.
UPDATE products SET stock = 0 WHERE sku = 'SKU-00025';
UPDATE customers SET vip = true, preferences = preferences || '{"tier": "gold"}' WHERE id % 100 = 0;
DELETE FROM customers WHERE id > 1150;
