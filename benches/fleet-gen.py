#!/usr/bin/env python3
"""Writes N varied daos-preflight reports as JSON lines, from one real report.

Usage: fleet-gen.py BASE_REPORT.json N > reports.jsonl

Each host gets its own name (node00001...), machine and boot ids, a generation time in
the last two days, and — for a realistic mix — a few failing or erroring checks, a
different kernel on 5 %, different hugepage counts on 3 %, a NIC at another speed or
MTU. Seeded: the same N always gives the same file.

Every report carries the `daos` section of one DAOS system, so `fleet` judges it:
the first 128 hosts (or N/8 when fewer) are servers (two verbs engines on ib0/ib1, the
first three servers the access points, secure with one CA), the others clients whose
agent lists its access points, ib0/ib1 with their RDMA domains in fabric_ifaces, and whose
daos_control.yml hostlist is the servers' range. Each host has an FQDN, an address
(10.x.y.z: only written, never contacted) and a synchronised clock; 0.5 % of the
clients name another system and 0.5 % point their agent at a client, so the system
rules have something to find.
"""
import copy
import json
import random
import sys
import uuid

base = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
rng = random.Random(8)
statuses = ["pass", "warn", "fail", "skip", "error"]
weights = [80, 8, 4, 6, 2]
kernels = ["4.18.0-553.el8_10.x86_64", "4.18.0-513.5.1.el8_9.x86_64", "5.14.0-427.el9.x86_64"]
if not base["facts"]["net"]["interfaces"]:
    base["facts"]["net"]["interfaces"] = [
        {"name": "ib0", "operstate": "up", "carrier": True, "speed_mbps": 200000,
         "mtu": 4092, "mac": None, "link_type": 32, "pci_address": "0000:3b:00.0",
         "numa_node": 0, "rdma_device": "mlx5_0", "addresses": None},
        {"name": "ib1", "operstate": "up", "carrier": True, "speed_mbps": 200000,
         "mtu": 4092, "mac": None, "link_type": 32, "pci_address": "0000:d8:00.0",
         "numa_node": 1, "rdma_device": "mlx5_1", "addresses": None},
    ]
servers = max(1, min(128, n // 8))
CA = "5d41402abc4b2a76b9719d911017c592" * 2
PROV = "ofi+verbs;ofi_rxm"


def file(kind, present):
    return {"kind": kind, "path": "/etc/daos/daos_%s.yml" % kind, "present": present,
            "sha256": ("%064x" % rng.getrandbits(256)) if present else None,
            "loaded": present, "error": None}


def transport():
    return {"allow_insecure": False, "ca_cert": "/etc/daos/certs/daosCA.crt", "ca_sha256": CA}


def daos(i):
    aps = ["node%05d" % k for k in range(1, min(3, servers) + 1)]
    d = {"role": "server" if i <= servers else "client", "rules_version": "2.6",
         "installed_version": "2.6.0", "server": None, "agent": None, "control": None}
    if i <= servers:
        d["files"] = [file("server", True), file("agent", False), file("control", False)]
        d["server"] = {"name": "daos_server", "port": 10001, "access_points": aps,
                       "access_points_key": "access_points", "provider": PROV,
                       "transport": transport(),
                       "engines": [{"index": e, "fabric_iface": "ib%d" % e,
                                    "fabric_iface_port": 31416 + 1000 * e, "provider": PROV,
                                    "numa_node": e} for e in range(2)]}
        return d
    name = "daos_test" if rng.random() < 0.005 else "daos_server"
    agent_aps = list(aps)
    if rng.random() < 0.005:
        agent_aps[0] = "node%05d" % n  # a client
    d["files"] = [file("server", False), file("agent", True), file("control", True)]
    d["agent"] = {"name": name, "port": 10001, "access_points": agent_aps,
                  "transport": transport(),
                  "fabric_ifaces": [{"numa_node": e, "devices": [
                      {"iface": "ib%d" % e, "domain": "mlx5_%d" % e}]} for e in range(2)]}
    d["control"] = {"name": name, "port": 10001,
                    "hostlist": ["node[00001-%05d]" % servers], "transport": transport()}
    return d


out = sys.stdout
for i in range(1, n + 1):
    r = copy.deepcopy(base)
    name = f"node{i:05d}"
    r["host"]["hostname"] = name
    r["host"]["fqdn"] = name + ".cluster.example.org"
    r["host"]["addresses"] = ["10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255)]
    r["daos"] = daos(i)
    r["facts"]["time"] = {"synchronized": True}
    r["host"]["machine_id"] = uuid.UUID(int=rng.getrandbits(128)).hex
    r["host"]["boot_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    t = 1795568461 - rng.randrange(0, 2 * 86400)
    h, m, s = t % 86400 // 3600, t % 3600 // 60, t % 60
    r["generated_at"] = f"2026-11-{24 + (t - 1795478400) // 86400:02d}T{h:02d}:{m:02d}:{s:02d}Z"
    for c in r["checks"]:
        if rng.random() < 0.1:
            c["status"] = rng.choices(statuses, weights)[0]
    if rng.random() < 0.05:
        k = rng.choice(kernels)
        r["facts"]["kernel"]["release"] = k
        r["host"]["kernel"] = k
    if rng.random() < 0.03:
        for node in r["facts"]["numa"]["nodes"]:
            for p in node["hugepages"]:
                if p["size_kib"] == 2048:
                    p["total"] = rng.choice([0, 512, 4096])
    for iface in r["facts"]["net"]["interfaces"]:
        if rng.random() < 0.01:
            iface["speed_mbps"] = 100000
        if rng.random() < 0.01:
            iface["mtu"] = 2044
    out.write(json.dumps(r, separators=(",", ":")))
    out.write("\n")
