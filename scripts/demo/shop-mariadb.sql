-- The quickstart's demo shop on MariaDB: customers, products, orders.
CREATE TABLE customers (
  id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  email       VARCHAR(190) NOT NULL UNIQUE,
  name        VARCHAR(100) NOT NULL,
  country     CHAR(2) NOT NULL,
  vip         TINYINT(1) NOT NULL DEFAULT 0,
  signed_up   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  preferences JSON NOT NULL
) CHARACTER SET utf8mb4;

CREATE TABLE products (
  sku         VARCHAR(20) PRIMARY KEY,
  title       VARCHAR(200) NOT NULL,
  price       DECIMAL(12,2) NOT NULL,
  weight_kg   FLOAT,
  tags        SET('tag0','tag1','tag2','tag3','tag4','tag5','tag6') NOT NULL DEFAULT '',
  stock       INT NOT NULL,
  description MEDIUMTEXT
) CHARACTER SET utf8mb4;

CREATE TABLE orders (
  id          BINARY(16) PRIMARY KEY,
  customer_id BIGINT UNSIGNED NOT NULL,
  sku         VARCHAR(20) NOT NULL,
  quantity    SMALLINT NOT NULL,
  total       DECIMAL(14,2) NOT NULL,
  status      ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  placed_at   DATETIME(6) NOT NULL,
  ship_by     DATE,
  handling    TIME
) CHARACTER SET utf8mb4;

INSERT INTO customers (email, name, country, vip, signed_up, preferences)
SELECT CONCAT('customer', seq, '@example.com'), CONCAT('Customer ', seq),
       ELT(1 + seq % 6, 'DE','FR','NL','SE','PL','IT'), seq % 17 = 0,
       TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq * 37 MINUTE,
       JSON_OBJECT('newsletter', seq % 3 = 0, 'lang', ELT(1 + seq % 3, 'de','fr','en'))
FROM seq_1_to_1000;

INSERT INTO products (sku, title, price, weight_kg, tags, stock, description)
SELECT CONCAT('SKU-', LPAD(seq, 5, '0')), CONCAT('Product ', seq), ROUND(seq * 1.37 + 0.99, 2),
       (seq % 50) / 10.0, CONCAT('tag', seq % 7), 100 + seq % 400,
       IF(seq % 25 = 0, REPEAT('A long description. ', 1000), CONCAT('Short description ', seq))
FROM seq_1_to_200;

INSERT INTO orders (id, customer_id, sku, quantity, total, status, placed_at, ship_by, handling)
SELECT UNHEX(MD5(CONCAT('order', seq))), 1 + seq % 1000, CONCAT('SKU-', LPAD(1 + seq % 200, 5, '0')),
       1 + seq % 5, ROUND((1 + seq % 5) * ((1 + seq % 200) * 1.37 + 0.99), 2),
       ELT(1 + seq % 3, 'new','paid','shipped'),
       TIMESTAMP'2024-06-01 08:00:00' + INTERVAL seq * 11 MINUTE,
       DATE'2024-06-03' + INTERVAL seq % 30 DAY, SEC_TO_TIME(seq % 100000)
FROM seq_1_to_5000;
