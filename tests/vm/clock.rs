//! Two guests on a private QEMU link, one with its clock 5 s ahead: the clock skew
//! between two DAOS servers measured on the wire by `probe`, before DAOS starts.
//!
//! node0 and node1 are the deployment guide's first two servers: the same
//! daos_server.yml (access point node0, control port 10001, one `ofi+tcp` engine on the
//! link's interface, fabric port 31416), an /etc/hosts naming both, and one virtio NIC
//! each on a `-netdev dgram` link between the two QEMUs (198.51.100.0/24; no other
//! network). node0's RTC starts 5 s ahead of the host's (`-rtc base=`); the guests run
//! no NTP client, so each kernel keeps the clock it read from its RTC at boot. node0 runs
//! `probe serve`; node1 runs `probe` (peers from its access points) until every path is
//! up, then tells node0 it is done (`nc` to [`DONE_PORT`]) so that node0 stops serving.
//!
//! The reference is the QEMU argument, not the binary: the RTC has whole-second
//! resolution and each kernel reads it once, truncating, so the guests' true skew is
//! 5 s ± 1 s; the test accepts 5 s ± 1.5 s.

use serde_json::Value;

use super::harness::{GuestRun, Link, PciSlot, Scenario, boot_together, vm_assert, vm_assert_eq};
use super::with_server_config;

/// How far node0's clock is ahead, seconds.
const AHEAD_S: u64 = 5;
/// What the measured offset may differ from [`AHEAD_S`] by, ms (RTC resolution + read).
const TOLERANCE_MS: f64 = 1500.0;
/// How far the host's console timestamps may lag the guest (QEMU under load), ms.
const HOST_VIEW_SLACK_MS: f64 = 500.0;
/// The link NIC's slot in both guests.
const LINK_SLOT: PciSlot = PciSlot::Root(3);
/// node1 connects here on node0 when it has probed (not a DAOS port).
const DONE_PORT: u16 = 7999;
/// The two nodes: host name, address on the link, MAC.
const NODES: [(&str, &str, &str); 2] = [
    ("node0", "198.51.100.1", "52:54:00:c5:00:00"),
    ("node1", "198.51.100.2", "52:54:00:c5:00:01"),
];

const HOSTS: &str = "127.0.0.1 localhost\n198.51.100.1 node0\n198.51.100.2 node1\n";

/// The guide's server file, reduced to what `probe` reads (ports, engine interface).
const SERVER_YML: &str = "\
name: daos_server
port: 10001
access_points: ['node0']
provider: ofi+tcp
engines:
- targets: 1
  fabric_iface: @IFACE0@
  fabric_iface_port: 31416
  storage:
  - class: ram
    scm_mount: /mnt/daos
";

/// The ports node1 probes on node0, as daos_server.yml gives them: control, and (tcp
/// provider) one fabric port per CaRT context of the engine from its fabric_iface_port:
/// 2 + targets + min(nr_xs_helpers, targets) = 2 + 1 + 0 = 3 (DAOS v2.6.0
/// engine/srv_internal.h `DSS_CTX_NR_TOTAL`, cart/crt_hg.c `crt_get_info_string`).
const PORTS: [u16; 4] = [10001, 31416, 31417, 31418];

/// The guest's clock, µs resolution (busybox adjtimex prints `time.tv_sec`, `tv_usec`).
const CLOCK: &str = "adjtimex | grep time.tv_";

/// A guest's clock minus the host's, seconds, at the end of a [`CLOCK`] capture: the
/// guest's time printed against the host's time when the line reached the console.
#[track_caller]
fn guest_minus_host(run: &GuestRun, capture: &str) -> f64 {
    let text = &run.section(capture).text;
    let field = |k: &str| -> f64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| run.fail(format!("capture {capture}: no {k} in {text:?}")))
    };
    field("time.tv_sec:") + field("time.tv_usec:") / 1e6 - run.end_seen(capture)
}

/// One of the two guests: its host name, link address, hosts and server file.
fn node(i: usize, sockets: &[std::path::PathBuf; 2]) -> Scenario {
    let (host, addr, mac) = NODES[i];
    let s = Scenario::new(&format!("clock_skew_{host}"))
        .hostname(host)
        .link(Link {
            slot: LINK_SLOT,
            mac: mac.into(),
            address: format!("{addr}/24"),
            local: sockets[i].clone(),
            remote: sockets[1 - i].clone(),
        })
        .file("/etc/hosts", 0o644, HOSTS.as_bytes());
    with_server_config(s, SERVER_YML, &[LINK_SLOT.address()])
}

/// `(clock_offset_ms, rtt_ms)` of node1's results; fails unless every path is ok.
#[track_caller]
fn offsets(run: &GuestRun, probe: &Value) -> Vec<(f64, f64)> {
    let results = probe["results"].as_array().cloned().unwrap_or_default();
    let ports: Vec<u64> = results.iter().filter_map(|r| r["port"].as_u64()).collect();
    let want: Vec<u64> = PORTS.iter().map(|p| u64::from(*p)).collect();
    vm_assert_eq!(run, ports, want, "node1 probes node0's DAOS ports: {probe}");
    results
        .iter()
        .map(|r| {
            vm_assert_eq!(run, r["peer"], "node0", "peer: {r}");
            vm_assert_eq!(run, r["status"], "ok", "path status: {r}");
            vm_assert_eq!(run, r["address"], NODES[0].1, "resolved by /etc/hosts: {r}");
            vm_assert_eq!(run, r["peer_hostname"], "node0", "handshake name: {r}");
            let rtt = r["rtt_ms"].as_f64().unwrap_or(f64::NAN);
            vm_assert!(run, (0.0..1000.0).contains(&rtt), "rtt on the link: {r}");
            let offset = r["clock_offset_ms"]
                .as_f64()
                .unwrap_or_else(|| run.fail(format!("no clock_offset_ms: {r}")));
            (offset, rtt)
        })
        .collect()
}

#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn clock_skew_between_two_guests() {
    let started = std::time::Instant::now();
    // The sockets live outside the scenario directories, which boot_together wipes.
    let link_dir = super::harness::work_dir().join("clock_skew_link");
    let _ = std::fs::remove_dir_all(&link_dir);
    std::fs::create_dir_all(&link_dir).expect("link dir");
    let sockets = [link_dir.join("node0.sock"), link_dir.join("node1.sock")];

    let node0 = node(0, &sockets)
        .rtc_ahead(AHEAD_S)
        .capture("clock-before", CLOCK)
        .capture(
            "serve",
            &format!(
                "/bin/daos-preflight probe serve --duration 100 & s=$!; \
             timeout 100 nc -l -p {DONE_PORT} </dev/null >/dev/null; kill $s; wait $s"
            ),
        );
    let node1 = node(1, &sockets)
        .capture("clock-before", CLOCK)
        .capture(
            "probe",
            // Until node0 serves (it boots at the same time): at most 60 tries.
            "i=0; while :; do i=$((i + 1)); \
             /bin/daos-preflight probe --format json --timeout-ms 1000 >/tmp/probe.json 2>/tmp/probe.err; \
             rc=$?; if [ $rc -eq 0 ] || [ $i -ge 60 ]; then break; fi; sleep 1; done; \
             echo $i >/tmp/probe.tries; cat /tmp/probe.json; exit $rc",
        )
        .capture("probe-tries", "cat /tmp/probe.tries /tmp/probe.err")
        .capture("clock-after", CLOCK)
        .capture(
            "done",
            &format!("timeout 10 nc {} {DONE_PORT} </dev/null", NODES[0].1),
        );
    let node0 = node0.capture("clock-after", CLOCK);
    let runs = boot_together(&[&node0, &node1]);
    let (r0, r1) = (&runs[0], &runs[1]);

    // Each guest is the host the reports say.
    for (run, (host, _, _)) in runs.iter().zip(NODES) {
        vm_assert_eq!(run, run.report()["host"]["hostname"], host, "host.hostname");
    }

    // node0 served the DAOS ports of its file: control on all addresses, the fabric
    // ports on the link's address.
    let serve = &r0.section("serve").text;
    vm_assert_eq!(r0, r0.section("serve").rc, 0, "probe serve exit: {serve}");
    for want in ["listening: control 10001 on 0.0.0.0"]
        .into_iter()
        .map(String::from)
        .chain((31416..=31418).map(|p| format!("listening: fabric {p} on {}", NODES[0].1)))
    {
        vm_assert!(r0, serve.contains(&want), "serve says {want:?}: {serve}");
    }

    // node1 reached every port, through the link, and measured node0 5 s ahead.
    let probe = r1.json("probe");
    vm_assert_eq!(r1, r1.section("probe").rc, 0, "probe exit code: {probe}");
    vm_assert_eq!(r1, probe["schema"], "daos-preflight/probe/v1", "schema");
    vm_assert_eq!(r1, probe["from"]["hostname"], "node1", "from.hostname");
    vm_assert_eq!(r1, probe["summary"]["status"], "pass", "summary: {probe}");
    let paths = offsets(r1, &probe);

    // The host's view of the same two clocks, before and after the probe: each guest's
    // time against the host's when the line reached the console (node0 minus node1).
    let view: Vec<[f64; 2]> = runs
        .iter()
        .map(|r| {
            [
                guest_minus_host(r, "clock-before"),
                guest_minus_host(r, "clock-after"),
            ]
        })
        .collect();
    let host_skew_ms = [
        (view[0][0] - view[1][0]) * 1000.0,
        (view[0][1] - view[1][1]) * 1000.0,
    ];
    let (lo, hi) = paths.iter().fold((f64::MAX, f64::MIN), |(l, h), (o, _)| {
        (l.min(*o), h.max(*o))
    });
    let figures = format!(
        "probe measured node0 {lo:.0}..{hi:.0} ms ahead over {} paths (RTC +{AHEAD_S} s); \
         host view node0 - node1: {:.0} ms before, {:.0} ms after (node0 {:+.3}/{:+.3} s, \
         node1 {:+.3}/{:+.3} s vs the host); probe tries {}; {:.1} s in all",
        paths.len(),
        host_skew_ms[0],
        host_skew_ms[1],
        view[0][0],
        view[0][1],
        view[1][0],
        view[1][1],
        r1.section("probe-tries").text.lines().next().unwrap_or("?"),
        started.elapsed().as_secs_f64()
    );
    eprintln!("vm scenario clock_skew: {figures}");

    let want = AHEAD_S as f64 * 1000.0;
    for (o, rtt) in &paths {
        // What QEMU was told, within the RTC's whole-second reading.
        vm_assert!(
            r1,
            (want - TOLERANCE_MS..=want + TOLERANCE_MS).contains(o),
            "node0's clock is {AHEAD_S} s ahead (-rtc base=): measured {o} ms; {figures}"
        );
        // What the host saw, within the estimate's bound (rtt/2) and the console's
        // latency.
        let slack = rtt / 2.0 + HOST_VIEW_SLACK_MS;
        let (vlo, vhi) = (
            host_skew_ms[0].min(host_skew_ms[1]),
            host_skew_ms[0].max(host_skew_ms[1]),
        );
        vm_assert!(
            r1,
            (vlo - slack..=vhi + slack).contains(o),
            "probe's {o} ms (rtt {rtt} ms) vs the host's view; {figures}"
        );
    }
    // One pair of clocks: any two paths agree within their error bounds (rtt/2 each).
    for (i, (a, ra)) in paths.iter().enumerate() {
        for (b, rb) in &paths[i + 1..] {
            vm_assert!(
                r1,
                (0.0..=(ra + rb) / 2.0 + 1.0).contains(&(a - b).abs()),
                "offsets of one pair agree within rtt/2: {a} ms (rtt {ra}) vs {b} ms (rtt {rb})"
            );
        }
    }
}
