#!/usr/bin/env python3
"""Write the committed seed corpora under fuzz/corpus/ (run from anywhere; idempotent).

VRRP seeds are the keepalived 2.2.7 captures of src/wire/vrrp.rs (see its test module)
and keepalived 2.4.3's signed adverts (tests/fixtures/wire/keepalived-2.4.3-auth-hmac.txt);
config seeds are the shipped configs and the test fixtures (keepalived samples,
a file with every warning, one with errors); control seeds are one request of each command.
"""
import hashlib
import pathlib
import re

FUZZ = pathlib.Path(__file__).resolve().parent.parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def put(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


src = (ROOT / "src/wire/vrrp.rs").read_text()
vectors = {}
for m in re.finditer(r'const (KA_\w+): &str = "((?:[^"\\]|\\\n)*)";', src):
    vectors[m.group(1)] = bytes.fromhex(re.sub(r"[^0-9a-fA-F]", "", m.group(2)))

for name, data in sorted(vectors.items()):
    if data[0] >> 4 == 4:
        put("vrrp_decode", data)
        payload = data[(data[0] & 0x0F) * 4:]
        put("vrrp_roundtrip", b"\x00" + payload)
        if payload[0] >> 4 == 2:
            put("vrrp_roundtrip", b"\x02" + payload)
    else:
        payload = data[40:]
        put("vrrp_decode", payload)
        put("vrrp_roundtrip", b"\x01" + payload)

# keepalived 2.4.3 adverts with the auth_hmac trailer: the first of each instance.
seen = set()
for line in (ROOT / "tests/fixtures/wire/keepalived-2.4.3-auth-hmac.txt").read_text().splitlines():
    if line.startswith("#") or not line.strip():
        continue
    vrid, _, _, packet = line.split()
    if vrid in seen:
        continue
    seen.add(vrid)
    data = bytes.fromhex(packet)
    put("vrrp_decode", data if data[0] >> 4 == 4 else data[40:])

FIXTURES = ROOT / "tests/fixtures/config"
for conf in sorted(
    [
        ROOT / "conf/baton.conf",
        *(ROOT / "conf/examples").glob("*.conf"),
        FIXTURES / "warnings.conf",
        FIXTURES / "bad/errors.conf",
        *(FIXTURES / "keepalived-samples").glob("keepalived.conf.*"),
    ]
):
    put("config_parse", conf.read_bytes())

for line in [
    '{"version":1,"command":"status"}',
    '{"version":1,"command":"status","instance":"PG_VIP"}',
    '{"version":1,"command":"fallback"}',
    '{"version":1,"command":"resign","instance":"VI_1","hold_s":30}',
    '{"version":1,"command":"lock","instance":"VI_1"}',
    '{"version":1,"command":"unlock","instance":"VI_1"}',
    '{"version":1,"command":"reconfigure"}',
]:
    put("control_request", line.encode())

# A request line, then the bytes that steer the instance it is applied to (see
# `checks::control_request`): setup (bits 0-1: owner master / backup / master by timer /
# backup hearing a master; bit 2 lock; bit 3 fault; bit 4 VRRPv2), priority, interval,
# hold-down, then `now` (little-endian u64 seconds and a byte of fraction) and the time
# steps (little-endian u64 milliseconds).
NOW_MAX = b"\xff" * 9
NOW_DAY = (86_400).to_bytes(8, "little") + b"\x00"
for line, steer in [
    ('{"version":1,"command":"resign","hold_s":86400}', b"\x00\x00\x64\x00" + NOW_MAX),
    ('{"version":1,"command":"resign","hold_s":0}', b"\x02\x64\x64\x05" + NOW_DAY),
    ('{"version":1,"command":"resign","hold_s":86400}', b"\x12\x64\x01\xff" + NOW_MAX + NOW_MAX),
    ('{"version":1,"command":"resign","hold_s":18446744073709551615}', b"\x00\x00\x64\x00" + NOW_DAY),
    ('{"version":1,"command":"resign","hold_s":18446744073709551614}', b"\x02\x64\x64\x00" + NOW_MAX),
    ('{"version":1,"command":"resign","hold_s":-1}', b"\x00"),
    ('{"version":1,"command":"resign","hold_s":1.5}', b"\x00"),
    ('{"version":1,"command":"resign","hold_s":"60"}', b"\x00"),
    ('{"version":1,"command":"fallback"}', b"\x03\xc8\x64\x00" + NOW_DAY + b"\x64"),
    ('{"version":1,"command":"lock","instance":"VI_1"}', b"\x02\x64\x64\x00" + NOW_MAX),
    ('{"version":1,"command":"unlock","instance":"VI_1"}', b"\x07\x64\x64\x00" + NOW_DAY),
    ('{"version":18446744073709551615,"command":"status"}', b""),
]:
    put("control_request", line.encode() + b"\n" + steer)
