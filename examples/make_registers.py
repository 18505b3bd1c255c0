"""Build the small synthetic register databases of the two example companies.

Everyone in them is invented.  The people who write the demo's sample mail are among them, so
the registers issue can find them by e-mail, phone, customer number or Y-tunnus.  Deterministic:
the same seed gives the same files.  Run: .venv/bin/python examples/make_registers.py
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["Aino", "Eero", "Helmi", "Juhani", "Kaisa", "Lauri", "Maija", "Niko", "Oona", "Pekka",
         "Riikka", "Sami", "Tiina", "Ville", "Anna-Liisa", "Erik", "Johanna", "Mikael", "Sofia",
         "Emil", "Linnea", "Oskar"]
LAST = ["Virtanen", "Korhonen", "Mäkelä", "Nieminen", "Heikkinen", "Koskinen", "Järvinen",
        "Lehtonen", "Saarinen", "Lindqvist", "Holmström", "Räsänen", "Tuominen", "Kallio"]
STREETS = ["Koivukuja", "Rantatie", "Myllytie", "Kirkkokatu", "Pajatie", "Saarenkatu", "Harjutie"]
TOWNS = [("40800", "Vaajakoski"), ("40100", "Jyväskylä"), ("16300", "Orimattila"),
         ("15100", "Lahti"), ("00100", "Helsinki"), ("65100", "Vaasa")]
PRODUCTS = ["Lämpöpumpun huolto", "Terassilaudat 28x120", "Ruuvipakkaus 500 kpl", "Työkalusarja",
            "Sadevesikouru 3 m", "Maalipaketti 10 l", "Kattoturvatuotteet", "Betonielementti"]

#: People who appear in the demo's sample mail (examples/*/sample-mail/).
KNOWN_KESPET = [
    ("Aino Virtanen", "aino.virtanen@example.fi", "+358401234567", "Koivukuja 3 B 12, 40800 Vaajakoski"),
    ("Erik Lindqvist", "erik.lindqvist@example.se", "+358452223344", "Strandvägen 5, 65100 Vasa"),
    ("Sarah Miller", "sarah.miller@example.com", "+358409998877", "Rantatie 9, 40100 Jyväskylä"),
    ("Pekka Nieminen", "pekka.nieminen@example.fi", "+358505556677", "Myllytie 2, 40800 Vaajakoski"),
    ("Johanna Holmström", "johanna.holmstrom@example.fi", "+358442221100", "Pajatie 14, 40100 Jyväskylä"),
]
KNOWN_KERA = [
    ("Maija Koskinen", "maija.koskinen@example.fi", "+358401112233", "Harjutie 7, 16300 Orimattila"),
    ("Lauri Järvinen", "lauri.jarvinen@rakennus-example.fi", "+358503334455", "Saarenkatu 1, 15100 Lahti"),
    ("Oskar Lehtonen", "oskar.lehtonen@example.com", "+358407778899", "Kirkkokatu 4, 00100 Helsinki"),
]


def _address(rng: random.Random) -> str:
    code, town = rng.choice(TOWNS)
    return f"{rng.choice(STREETS)} {rng.randint(1, 60)}, {code} {town}"


def _phone(rng: random.Random) -> str:
    return f"+3584{rng.randint(0, 5)}{rng.randint(1000000, 9999999)}"


def _email(name: str, rng: random.Random) -> str:
    user = name.lower().replace(" ", ".").translate(str.maketrans("äöå", "aoa"))
    return f"{user}{rng.randint(1, 99)}@example.{rng.choice(['fi', 'com', 'net'])}"


def _ytunnus(rng: random.Random) -> str:
    """An invented business ID with a valid check digit (weights 7,9,10,5,8,4,2)."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(7)]
        r = sum(d * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if r != 1:
            return "".join(map(str, digits)) + "-" + str(0 if r == 0 else 11 - r)


def _history(db: sqlite3.Connection, rng: random.Random, cid: int, n: int, kera: bool) -> None:
    for _ in range(n):
        day = date(2026, 11, 1) - timedelta(days=rng.randint(10, 1800))
        invoice = f"L{rng.randint(10000, 99999)}" if kera else None
        cols = "customer_id, order_number, ordered_at, product, amount_eur" + (
            ", invoice_number" if kera else "")
        vals = [cid, f"T{rng.randint(100000, 999999)}", day.isoformat(), rng.choice(PRODUCTS),
                round(rng.uniform(15, 4800), 2)] + ([invoice] if kera else [])
        db.execute(f"INSERT INTO purchases ({cols}) VALUES ({','.join('?' * len(vals))})", vals)
    for _ in range(rng.randint(0, 3)):
        day = date(2026, 11, 1) - timedelta(days=rng.randint(5, 900))
        note = rng.choice(["Kysyi toimitusajasta", "Tarjous lähetetty", "Reklamaatio käsitelty",
                           "Soitti laskusta", "Messukontakti"])
        db.execute("INSERT INTO contact_notes (customer_id, noted_at, channel, note) "
                   "VALUES (?,?,?,?)", (cid, day.isoformat(), rng.choice(["puhelin", "sähköposti"]), note))


def build_kespet(path: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript("""
    CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number TEXT UNIQUE, name TEXT,
      title TEXT, company TEXT, business_id TEXT, email TEXT, phone TEXT, address TEXT,
      delivery_address TEXT, billing_info TEXT, industry TEXT, newsletter_consent INTEGER);
    CREATE TABLE purchases (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
      order_number TEXT, ordered_at TEXT, product TEXT, amount_eur REAL);
    CREATE TABLE contact_notes (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
      noted_at TEXT, channel TEXT, note TEXT);
    """)
    people = list(KNOWN_KESPET)
    while len(people) < 40:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        people.append((name, _email(name, rng), _phone(rng), _address(rng)))
    for i, (name, email, phone, addr) in enumerate(people):
        company = rng.random() < 0.35
        db.execute(
            "INSERT INTO customers (customer_number, name, title, company, business_id, email, "
            "phone, address, delivery_address, billing_info, industry, newsletter_consent) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (f"A{10230 + i}", name, rng.choice(["Toimitusjohtaja", "Ostaja", "Huoltopäällikkö"])
             if company else None, f"{rng.choice(LAST)} Oy" if company else None,
             _ytunnus(rng) if company else None, email, phone, addr, addr,
             "verkkolasku" if company else "e-lasku", rng.choice(["rakennus", "kiinteistö",
             "teollisuus"]) if company else None, int(rng.random() < 0.6)))
        _history(db, rng, i + 1, rng.randint(0, 6), kera=False)
    db.commit()
    db.close()


def build_kera(path: Path, seed: int = 11) -> None:
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript("""
    CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number TEXT UNIQUE, kind TEXT,
      company TEXT, business_id TEXT, name TEXT, personal_id TEXT, email TEXT, phone TEXT,
      visiting_address TEXT, postal_address TEXT, delivery_address TEXT, billing_address TEXT);
    CREATE TABLE purchases (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
      order_number TEXT, ordered_at TEXT, product TEXT, amount_eur REAL, invoice_number TEXT);
    CREATE TABLE contact_notes (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
      noted_at TEXT, channel TEXT, note TEXT);
    CREATE TABLE marketing_consents (id INTEGER PRIMARY KEY, email TEXT, name TEXT, company TEXT,
      channel TEXT, consent INTEGER, updated_at TEXT);
    CREATE TABLE subcontractors (id INTEGER PRIMARY KEY, company TEXT, business_id TEXT,
      contact_person TEXT, email TEXT, phone TEXT, address TEXT);
    CREATE TABLE workers (id INTEGER PRIMARY KEY, subcontractor_id INTEGER REFERENCES subcontractors(id),
      name TEXT, birth_date TEXT, tax_number TEXT, valtti_card TEXT, email TEXT, phone TEXT);
    """)
    people = [KNOWN_KERA[0], KNOWN_KERA[2]]
    while len(people) < 30:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        people.append((name, _email(name, rng), _phone(rng), _address(rng)))
    for i, (name, email, phone, addr) in enumerate(people):
        private = i % 3 == 0
        # An invented, obviously synthetic identity code: never a real person's.
        pid = (f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(50, 99)}-9"
               f"{rng.randint(10, 99)}X") if private else None
        db.execute(
            "INSERT INTO customers (customer_number, kind, company, business_id, name, "
            "personal_id, email, phone, visiting_address, postal_address, delivery_address, "
            "billing_address) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (f"K{5000 + i}", "private" if private else "company_contact",
             None if private else f"{rng.choice(LAST)} Rakennus Oy",
             None if private else _ytunnus(rng), name, pid, email, phone,
             None if private else addr, addr, addr, addr))
        _history(db, rng, i + 1, rng.randint(0, 5), kera=True)
        db.execute("INSERT INTO marketing_consents (email, name, company, channel, consent, "
                   "updated_at) VALUES (?,?,?,?,?,?)",
                   (email, name, None, "email", int(rng.random() < 0.7), "2025-05-01"))
    for j in range(6):
        cname, cmail, cphone, caddr = KNOWN_KERA[1] if j == 0 else (
            f"{rng.choice(FIRST)} {rng.choice(LAST)}", "", _phone(rng), _address(rng))
        cmail = cmail or _email(cname, rng)
        db.execute("INSERT INTO subcontractors (company, business_id, contact_person, email, "
                   "phone, address) VALUES (?,?,?,?,?,?)",
                   (f"{rng.choice(LAST)} Asennus Oy", _ytunnus(rng), cname, cmail, cphone, caddr))
        for _ in range(rng.randint(2, 5)):
            wname = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            born = date(1965, 1, 1) + timedelta(days=rng.randint(0, 13000))
            db.execute("INSERT INTO workers (subcontractor_id, name, birth_date, tax_number, "
                       "valtti_card, email, phone) VALUES (?,?,?,?,?,?,?)",
                       (j + 1, wname, born.isoformat(), f"1000{rng.randint(10000000, 99999999)}",
                        f"VK{rng.randint(1000000, 9999999)}", _email(wname, rng), _phone(rng)))
    db.commit()
    db.close()


if __name__ == "__main__":
    build_kespet(HERE / "kespet" / "registers.db")
    build_kera(HERE / "kera" / "registers.db")
    print("wrote examples/kespet/registers.db and examples/kera/registers.db")
