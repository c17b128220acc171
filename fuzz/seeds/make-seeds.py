#!/usr/bin/env python3
"""Write the committed seed corpora under fuzz/corpus/ (run from anywhere; idempotent).

VRRP seeds are the keepalived 2.2.7 captures of src/wire/vrrp.rs (see its test module);
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
