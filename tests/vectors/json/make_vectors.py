#!/usr/bin/env python3
"""Build the json_codec known-answer vectors from the .proto files.

For each document below this writes <name>.json, the canonical JSON text
that json_codec_encode must produce, and <name>.pb.hex, the protobuf bytes
of the same message. The bytes come from the small proto3 wire encoder
here (fields in number order, defaults left out except set oneof members),
written from the encoding specification and independent of protobuf-c and
of the code under test. Standard library only:

    python3 tests/vectors/json/make_vectors.py
"""
import base64
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

FIELD = r"(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;"


def parse(paths):
    """Enums and messages of flat proto3 files (no nested types)."""
    enums, msgs = {}, {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            src = re.sub(r"//[^\n]*", "", f.read())
        for m in re.finditer(r"\benum\s+(\w+)\s*\{([^}]*)\}", src):
            enums[m.group(1)] = {
                k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)\s*;", m.group(2))
            }
        for m in re.finditer(r"\bmessage\s+(\w+)\s*\{((?:[^{}]|\{[^{}]*\})*)\}", src):
            fields = {}
            body = m.group(2)
            for o in re.finditer(r"\boneof\s+\w+\s*\{([^}]*)\}", body):
                for rep, typ, name, num in re.findall(FIELD, o.group(1)):
                    fields[name] = (int(num), typ, False, True)
            rest = re.sub(r"\boneof\s+\w+\s*\{[^}]*\}", "", body)
            for rep, typ, name, num in re.findall(FIELD, rest):
                fields[name] = (int(num), typ, bool(rep), False)
            msgs[m.group(1)] = fields
    return enums, msgs


ENUMS, MSGS = parse([os.path.join(ROOT, "proto", "package.proto"),
                     os.path.join(ROOT, "proto", "envelope.proto")])
VARINT = {"int32", "int64", "uint32", "uint64", "bool"}


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(num, wire):
    return varint(num << 3 | wire)


def is_default(typ, v):
    if typ in MSGS:
        return False  # a present message is written, even when empty
    if typ in ENUMS:
        return ENUMS[typ][v] == 0
    return v in (0, False, "", 0.0)


def encode_field(num, typ, v):
    if typ in VARINT:
        return tag(num, 0) + varint(int(v))
    if typ in ENUMS:
        return tag(num, 0) + varint(ENUMS[typ][v])
    if typ == "double":
        return tag(num, 1) + struct.pack("<d", v)
    if typ == "string":
        data = v.encode("utf-8")
    elif typ == "bytes":
        data = base64.b64decode(v, validate=True)
    elif typ in MSGS:
        data = encode(typ, v)
    else:
        raise ValueError("type %s not handled" % typ)
    return tag(num, 2) + varint(len(data)) + data


def encode(name, obj):
    fields = MSGS[name]
    out = b""
    for key in sorted(obj, key=lambda k: fields[k][0]):
        num, typ, rep, oneof = fields[key]
        if rep:
            # proto3 would pack repeated numbers; these schemas have none.
            assert typ in ("string", "bytes") or typ in MSGS, key
            for v in obj[key]:
                out += encode_field(num, typ, v)
        elif oneof or not is_default(typ, obj[key]):
            out += encode_field(num, typ, obj[key])
    return out


def canonical(name, obj):
    """Keys in field-number order, recursively, as json_codec writes them."""
    fields = MSGS[name]
    out = {}
    for key in sorted(obj, key=lambda k: fields[k][0]):
        typ, rep = fields[key][1], fields[key][2]
        v = obj[key]
        if typ in MSGS:
            v = [canonical(typ, e) for e in v] if rep else canonical(typ, v)
        out[key] = v
    return out


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


# ------------------------------------------------------------ documents ---

COLUMNS = ["strategic", "land", "naval", "air", "other_military",
           "central_support", "peacekeeping", "military_assistance",
           "emergency_aid", "undistributed"]


def row(**cells):
    r = {k: v for k, v in cells.items() if v}
    r["total"] = sum(cells.values())
    return r


def add(*rows):
    out = {}
    for c in COLUMNS + ["total"]:
        s = sum(r.get(c, 0) for r in rows)
        if s:
            out[c] = s
    return out


active = row(land=412530110, naval=198402337, air=176004512,
             central_support=88210400, peacekeeping=12500300)
civilian = row(land=40210300, naval=22010450, air=19870300,
               central_support=35410220)
pensions = row(undistributed=3456789012)
personnel = add(active, civilian, pensions)
materials = row(land=51200300, naval=62100400, air=70300200)
om = add(materials)
aircraft = row(air=98500000)
procurement = add(aircraft)
construction = row(naval=4500000)
proc_cons = add(procurement, construction)
research = row(central_support=7600000)
rd = add(research)

MILEX = {
    "state": "ARG",
    "year": 2024,
    "language": "es",
    "remarks": "Cifras en miles de pesos argentinos, precios corrientes.",
    "prepared_at": "2025-04-28T15:30:00Z",
    "milex": {
        "currency": "ARS",
        "unit": "THOUSANDS",
        "form": "MILEX_STANDARDIZED",
        "matrix": {
            "personnel": personnel,
            "active_military": active,
            "civilian": civilian,
            "military_pensions": pensions,
            "operations_maintenance": om,
            "materials": materials,
            "procurement_construction": proc_cons,
            "procurement": procurement,
            "aircraft_engines": aircraft,
            "construction": construction,
            "naval_bases": construction,
            "research_development": rd,
            "basic_applied_research": research,
            "total": add(personnel, om, proc_cons, rd),
        },
    },
}

ARMS = {
    "state": "BRA",
    "year": 2024,
    "language": "pt",
    "prepared_at": "2025-05-20T09:00:00Z",
    "references": ["5f0c2a7e9b1d4c3a8e6f7a2b1c0d9e8f"],
    "arms_register": {
        "exports": [
            {"category": "ARMOURED_COMBAT_VEHICLES", "counterpart_state": "PHL",
             "quantity": 28, "description": "VBTP-MR Guarani 6x6",
             "comments": "Entregas parciais do contrato de 2023."},
            {"category": "COMBAT_AIRCRAFT", "counterpart_state": "PRT",
             "quantity": 1, "origin_state": "BRA",
             "intermediate_locations": ["ESP", "PRT"],
             "description": "KC-390 Millennium"},
            {"category": "MISSILES_AND_LAUNCHERS", "counterpart_state": "IDN",
             "quantity": 4, "withheld": True},
        ],
        "imports": [
            {"category": "ATTACK_HELICOPTERS", "counterpart_state": "USA",
             "quantity": 2, "description": "AH-64E"},
        ],
        "holdings": [
            {"category": "BATTLE_TANKS", "quantity": 386,
             "description": "Leopard 1A5 BR"},
            {"category": "WARSHIPS", "quantity": 7, "withheld": True},
        ],
        "national_policies": "Lei 12.598/2012; exportações sujeitas a "
                             "autorização do Ministério da Defesa.",
        "salw_exports": [
            {"type": "ASSAULT_RIFLES", "counterpart_state": "SEN",
             "quantity": 1500, "description": "IA2 5,56 mm"},
        ],
        "nil_salw_imports": True,
    },
}

EXERCISE = {
    "state": "CHL",
    "year": 2025,
    "language": "es",
    "remarks": "Actualiza las coordenadas del área norte.",
    "prepared_at": "2025-06-02T18:45:10Z",
    "exercise": {
        "kind": "NOTIFICATION",
        "message_number": "CHL-2025-014",
        "name": "Ejercicio Combinado Solidaridad 2025",
        "exercise_type": "DISASTER_RESPONSE",
        "start_date": "2025-09-08",
        "end_date": "2025-09-19",
        "areas": [
            {"place": "Valparaíso", "latitude": -33.0472, "longitude": -71.6127},
            {"place": "Isla de Pascua", "latitude": -27.1127,
             "longitude": -109.3497},
            {"place": "Antofagasta", "latitude": -23.65, "longitude": -70.4},
        ],
        "participating_states": ["CHL", "ARG", "PER"],
        "troops": 1850,
        "main_equipment": ["2 C-130H", "1 buque multipropósito",
                           "6 helicópteros UH-60"],
        "observers_invited": True,
        "observer_contact": "Estado Mayor Conjunto, +56 2 2222 0000",
        "response": {
            "accepted": True,
            "observers": [
                {"name": "María Gómez", "rank": "Coronel",
                 "organization": "Ministerio de Defensa (ARG)"},
                {"name": "Luis Quispe", "rank": "Capitán de Navío"},
            ],
        },
    },
}

ATTACHMENT = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n"
              b"endobj\n" + bytes(range(256)))

DOCUMENT = {
    "state": "COL",
    "year": 2025,
    "language": "es",
    "prepared_at": "2025-03-20T12:00:00Z",
    "document": {
        "kind": "WHITE_PAPER",
        "title": "Libro Blanco de la Defensa Nacional 2025",
        "metadata": [
            {"key": "edition", "integer": 2025},
            {"key": "published", "date": "2025-03-14"},
            {"key": "classification", "text": "PÚBLICO"},
            {"key": "supersedes_previous", "flag": False},
            {"key": "annexes", "integer": 0},
            {"key": "notes", "text": ""},
            {"key": "budget_delta", "integer": -1250000000000},
        ],
        "contacts": [
            {"area": "CSBM_GENERAL", "name": "Ana Rojas",
             "title": "Directora de Asuntos Internacionales",
             "organization": "Ministerio de Defensa Nacional",
             "email": "csbm@mindefensa.gov.co", "phone": "+57 1 266 0000"},
        ],
        "attachment": {
            "filename": "libro_blanco_2025.pdf",
            "media_type": "application/pdf",
            "content": b64(ATTACHMENT),
        },
    },
}

HEADER = {
    "version": 1,
    "federation": "oas-csbm",
    "package_id": b64(range(0x10, 0x20)),
    "sender": "COL",
    "sender_key_id": b64(range(0xa0, 0xb0)),
    "package_type": "DOCUMENT",
    "distribution": "ALL_MEMBERS",
    "recipients": [
        {"id": "ARG", "key_id": b64(range(16)), "ephemeral": b64(range(32)),
         "wrapped_key": b64(range(100, 148))},
        {"id": "hub", "key_id": b64([0xff] * 16),
         "ephemeral": b64(range(200, 232)), "wrapped_key": b64([0] * 48)},
    ],
    "created_at": 1745856000,
    "sequence": "18446744073709551615",
    "references": [b64(range(0x30, 0x40))],
    "year": 2024,
    "subject_date": "2025-04-15",
    "key_commitment": b64(range(0x40, 0x60)),
    "chunk_size": 65536,
    "body_size": 9223372036854775807,
    "body_hash": b64(range(0x60, 0x80)),
}

VECTORS = [
    ("package_milex", "Package", MILEX),
    ("package_arms_register", "Package", ARMS),
    ("package_exercise", "Package", EXERCISE),
    ("package_document", "Package", DOCUMENT),
    ("envelope_header", "EnvelopeHeader", HEADER),
]

if __name__ == "__main__":
    for name, msg, doc in VECTORS:
        doc = canonical(msg, doc)
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(HERE, name + ".pb.hex"), "w") as f:
            f.write(encode(msg, doc).hex() + "\n")
        print(name, len(text), "bytes of JSON")
