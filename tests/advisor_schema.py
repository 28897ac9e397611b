"""A made-up schema and workload for the index advisor's tests and benchmark (not the app's DocTypes).

Four tables of an order-entry app, named like Frappe's (``tab...``) so suggestions can be applied
through the index manager, with some indexes present on purpose (the primary keys, a customer
email index, an unused city index and a redundant one) and the ones a DBA would add missing.
:func:`workload` writes statements whose shapes a DBA would index (equality, equality + range,
equality + ORDER BY ... LIMIT, a join, a covering GROUP BY), shapes an existing index serves, a
shape on a table too small to matter, one no index can serve, and a few broken statements.
"""

import random
from datetime import date, timedelta

STATUSES = ("Draft", "Open", "Paid", "Cancelled")
WAREHOUSES = tuple(f"Warehouse {k:02d}" for k in range(25))
COMPANIES = tuple(f"Company {k}" for k in range(4))
START = date(2022, 1, 1)
DAYS = 3 * 365

TABLES = {
	"tabAdv Customer": """CREATE TABLE `tabAdv Customer` (
		`name` varchar(140) NOT NULL, `customer_name` varchar(140), `email` varchar(140), `city` varchar(140),
		`customer_group` varchar(140), `creation` datetime(6),
		PRIMARY KEY (`name`), KEY `idx_email` (`email`), KEY `idx_email_group` (`email`, `customer_group`),
		KEY `idx_city` (`city`)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
	"tabAdv Order": """CREATE TABLE `tabAdv Order` (
		`name` varchar(140) NOT NULL, `customer` varchar(140), `status` varchar(140), `posting_date` date,
		`grand_total` decimal(21,9), `company` varchar(140), `docstatus` int(1) NOT NULL DEFAULT 0,
		`remarks` text, `creation` datetime(6),
		PRIMARY KEY (`name`)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
	"tabAdv Order Item": """CREATE TABLE `tabAdv Order Item` (
		`name` varchar(140) NOT NULL, `parent` varchar(140), `item_code` varchar(140), `warehouse` varchar(140),
		`qty` decimal(21,9), `rate` decimal(21,9), `amount` decimal(21,9),
		PRIMARY KEY (`name`)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
	"tabAdv Country": """CREATE TABLE `tabAdv Country` (
		`name` varchar(140) NOT NULL, `code` varchar(8), `currency` varchar(8),
		PRIMARY KEY (`name`)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
}


def _insert(db, table: str, columns: list[str], rows, batch: int = 2000) -> None:
	cols = ", ".join(f"`{c}`" for c in columns)
	sql = f"INSERT INTO `{table}` ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
	chunk = []
	for row in rows:
		chunk.append(row)
		if len(chunk) >= batch:
			db.sql_many(sql, chunk)
			chunk = []
	if chunk:
		db.sql_many(sql, chunk)
	db.commit()


def seed(db, *, orders: int, items: int, customers: int, countries: int = 200, seed: int = 5) -> dict:
	"""Create the tables in ``db`` and fill them; returns the row counts."""
	rng = random.Random(seed)
	for ddl in TABLES.values():
		db.ddl(ddl)
	_insert(
		db,
		"tabAdv Customer",
		["name", "customer_name", "email", "city", "customer_group", "creation"],
		(
			(
				f"CUST-{k:06d}",
				f"Customer {k}",
				f"c{k}@example.org",
				f"City {k % 300}",
				f"Group {k % 7}",
				"2022-01-01",
			)
			for k in range(customers)
		),
	)
	_insert(
		db,
		"tabAdv Order",
		[
			"name",
			"customer",
			"status",
			"posting_date",
			"grand_total",
			"company",
			"docstatus",
			"remarks",
			"creation",
		],
		(
			(
				f"ORD-{k:07d}",
				f"CUST-{rng.randrange(customers):06d}",
				rng.choice(STATUSES),
				START + timedelta(days=rng.randrange(DAYS)),
				rng.randrange(100, 100_000) / 100,
				rng.choice(COMPANIES),
				rng.choice((0, 1, 1, 2)),
				"remark " * 60,
				"2022-01-01",
			)
			for k in range(orders)
		),
	)
	_insert(
		db,
		"tabAdv Order Item",
		["name", "parent", "item_code", "warehouse", "qty", "rate", "amount"],
		(
			(
				f"ITM-{k:08d}",
				f"ORD-{rng.randrange(orders):07d}",
				f"ITEM-{rng.randrange(400):04d}",
				rng.choice(WAREHOUSES),
				rng.randrange(1, 20),
				rng.randrange(100, 10_000) / 100,
				rng.randrange(100, 100_000) / 100,
			)
			for k in range(items)
		),
	)
	_insert(
		db,
		"tabAdv Country",
		["name", "code", "currency"],
		((f"Country {k}", f"C{k:03d}", rng.choice(("EUR", "USD", "GBP"))) for k in range(countries)),
	)
	for table in TABLES:
		db.ddl(f"ANALYZE TABLE `{table}`")
	return {"orders": orders, "items": items, "customers": customers, "countries": countries}


# Shapes a DBA would index, with the index that serves them (columns; the advisor may merge).
DBA_SHAPES = {
	"customer orders": "SELECT name, status, grand_total FROM `tabAdv Order` WHERE customer = '{customer}'",
	"open orders in a month": (
		"SELECT name, grand_total FROM `tabAdv Order` WHERE status = '{status}' "
		"AND posting_date BETWEEN '{day}' AND '{day_end}'"
	),
	"latest orders of a customer": (
		"SELECT `name`, `posting_date`, `grand_total` FROM `tabAdv Order` "
		"WHERE `customer` = '{customer}' ORDER BY `posting_date` DESC LIMIT 20"
	),
	"items of a customer's orders": (
		"SELECT o.name, i.item_code, i.qty FROM `tabAdv Order` o "
		"JOIN `tabAdv Order Item` i ON i.parent = o.name WHERE o.customer = '{customer}'"
	),
	"sales of a company (covering)": (
		"SELECT SUM(grand_total) FROM `tabAdv Order` WHERE company = '{company}' AND docstatus = 1"
	),
	"stock per item in a warehouse": (
		"SELECT item_code, SUM(qty) FROM `tabAdv Order Item` WHERE warehouse = '{warehouse}' GROUP BY item_code"
	),
}
# Shapes an existing index serves, or on a table too small to matter, or no index serves.
SERVED_SHAPES = {
	"order by name": "SELECT * FROM `tabAdv Order` WHERE name = '{order}'",
	"customer by email": "SELECT name, customer_name FROM `tabAdv Customer` WHERE email = 'c{k}@example.org'",
}
SMALL_SHAPES = {"country currency": "SELECT currency FROM `tabAdv Country` WHERE code = 'C{k3:03d}'"}
UNINDEXABLE_SHAPES = {
	"orders by company, through a function": "SELECT COUNT(*) FROM `tabAdv Order` WHERE IFNULL(company, '') = 'Company 1'"
}
BROKEN = [
	"SELECT name FROM WHERE customer = 'x'",
	"SELECT name FROM `tabAdv Order` WHERE customer = 'unterminated",
	"SELEC name FROM `tabAdv Order`",
	"SELECT no_such_column FROM `tabAdv Order` WHERE customer = 'x'",
]
OTHER = ["UPDATE `tabAdv Order` SET status = 'Paid' WHERE name = 'ORD-0000001'"]


def _fill(template: str, rng: random.Random, sizes: dict) -> str:
	day = START + timedelta(days=rng.randrange(DAYS - 31))
	return template.format(
		customer=f"CUST-{rng.randrange(sizes['customers']):06d}",
		status=rng.choice(STATUSES),
		day=day.isoformat(),
		day_end=(day + timedelta(days=30)).isoformat(),
		warehouse=rng.choice(WAREHOUSES),
		company=rng.choice(COMPANIES),
		order=f"ORD-{rng.randrange(sizes['orders']):07d}",
		k=rng.randrange(sizes["customers"]),
		k3=rng.randrange(sizes.get("countries", 200)),
	)


def workload(sizes: dict, *, statements: int = 200, seed: int = 9, broken: bool = True) -> list[str]:
	"""``statements`` SQL statements over every shape above (round robin, fresh values each)."""
	rng = random.Random(seed)
	templates = [
		*DBA_SHAPES.values(),
		*SERVED_SHAPES.values(),
		*SMALL_SHAPES.values(),
		*UNINDEXABLE_SHAPES.values(),
	]
	out = [_fill(templates[k % len(templates)], rng, sizes) for k in range(statements)]
	if broken:
		out += BROKEN + OTHER
	return out
