# The per-check status grouping `daos-preflight fleet` computes, in jq, for the
# benchmark: for every check id, the hosts in each status (sorted host names) and counts.
# Run with `jq -s -f fleet-status.jq reports.jsonl` (slurps every report into memory).
[ .[] | .host.hostname as $h | .checks[] | {id, status, host: $h} ]
| group_by(.id)
| map({
    id: .[0].id,
    statuses: (group_by(.status)
               | map({key: .[0].status,
                      value: {count: length, hosts: (map(.host) | sort)}})
               | from_entries)
  })
