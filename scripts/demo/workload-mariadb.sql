-- A short write workload for the MariaDB quickstart.
START TRANSACTION;
INSERT INTO customers (email, name, country, preferences)
SELECT CONCAT('new', seq, '@example.com'), CONCAT('New customer ', seq), 'DE', '{"newsletter": true}' FROM seq_1_to_200;
UPDATE products SET stock = stock - 1, price = price * 1.05 WHERE sku <= 'SKU-00050';
COMMIT;
START TRANSACTION;
UPDATE orders SET status = 'shipped', ship_by = NULL WHERE status = 'paid' AND placed_at < '2024-06-10';
DELETE FROM orders WHERE placed_at > '2024-07-05';
COMMIT;
UPDATE customers SET vip = 1, preferences = JSON_SET(preferences, '$.tier', 'gold') WHERE id % 100 = 0;
DELETE FROM customers WHERE id > 1150;
