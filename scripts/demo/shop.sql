-- The quickstart's demo shop: customers, products, orders with realistic types.
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');

CREATE TABLE customers (
  id          bigserial PRIMARY KEY,
  email       text NOT NULL UNIQUE,
  name        text NOT NULL,
  country     char(2) NOT NULL,
  vip         boolean NOT NULL DEFAULT false,
  signed_up   timestamptz NOT NULL DEFAULT now(),
  preferences jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE products (
  sku         text PRIMARY KEY,
  title       text NOT NULL,
  price       numeric(12,2) NOT NULL,
  weight_kg   real,
  tags        text[] NOT NULL DEFAULT '{}',
  stock       integer NOT NULL,
  description text
);

CREATE TABLE orders (
  id          uuid PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  sku         text NOT NULL REFERENCES products(sku),
  quantity    smallint NOT NULL,
  total       numeric(14,2) NOT NULL,
  status      order_status NOT NULL DEFAULT 'new',
  placed_at   timestamp NOT NULL,
  ship_by     date,
  window_     interval
);

INSERT INTO customers (email, name, country, vip, signed_up, preferences)
SELECT 'customer' || g || '@example.com', 'Customer ' || g,
       (ARRAY['DE','FR','NL','SE','PL','IT'])[1 + g % 6], g % 17 = 0,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes',
       jsonb_build_object('newsletter', g % 3 = 0, 'lang', (ARRAY['de','fr','en'])[1 + g % 3])
FROM generate_series(1, 1000) g;

INSERT INTO products (sku, title, price, weight_kg, tags, stock, description)
SELECT 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, round((g * 1.37 + 0.99)::numeric, 2),
       (g % 50) / 10.0, ARRAY['tag' || g % 7, 'tag' || g % 11], 100 + g % 400,
       CASE WHEN g % 25 = 0 THEN repeat('A long description. ', 1000) ELSE 'Short description ' || g END
FROM generate_series(1, 200) g;

INSERT INTO orders (id, customer_id, sku, quantity, total, status, placed_at, ship_by, window_)
SELECT md5('order' || g)::uuid, 1 + g % 1000, 'SKU-' || lpad((1 + g % 200)::text, 5, '0'),
       1 + g % 5, round(((1 + g % 5) * ((1 + g % 200) * 1.37 + 0.99))::numeric, 2),
       (ARRAY['new','paid','shipped']::order_status[])[1 + g % 3],
       timestamp '2024-06-01 08:00:00' + g * interval '11 minutes',
       date '2024-06-03' + g % 30, make_interval(days => g % 4, hours => g % 24)
FROM generate_series(1, 5000) g;
