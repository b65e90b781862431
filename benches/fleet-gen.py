#!/usr/bin/env python3
"""Writes N varied daos-preflight reports as JSON lines, from one real report.

Usage: fleet-gen.py BASE_REPORT.json N > reports.jsonl

Each host gets its own name (node00001...), machine and boot ids, a generation time in
the last two days, and — for a realistic mix — a few failing or erroring checks, a
different kernel on 5 %, different hugepage counts on 3 %, a NIC at another speed or
MTU. Seeded: the same N always gives the same file.
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
out = sys.stdout
for i in range(1, n + 1):
    r = copy.deepcopy(base)
    name = f"node{i:05d}"
    r["host"]["hostname"] = name
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
