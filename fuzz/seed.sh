#!/bin/sh
# Seeds the fuzz corpora from the DMAR test corpus (shared/corpus/dmar beside the
# checkout): every table for `dmar`; every table with its signature changed to IVRS
# for `ivrs` (the fuzz target re-checksums its inputs); QEMU's DMAR and IVRS from
# tests/fixtures/acpi.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../shared/corpus/dmar"
mkdir -p "$here/corpus/dmar" "$here/corpus/ivrs"
find "$src" -type f ! -name '*.json' ! -name '*.dsl' ! -name '*.txt' ! -name '*.tsv' |
while read -r f; do
    name=$(echo "$f" | sed "s|$src/||; s|/|_|g")
    cp "$f" "$here/corpus/dmar/$name"
    { printf 'IVRS'; tail -c +5 "$f"; } > "$here/corpus/ivrs/$name"
done
fixtures="$here/../tests/fixtures/acpi"
cp "$fixtures/qemu-7.2-q35-intel-iommu.DMAR" "$here/corpus/dmar/"
cp "$fixtures/qemu-7.2-q35-amd-iommu.IVRS" "$here/corpus/ivrs/"
echo "seeded $(ls "$here/corpus/dmar" | wc -l) tables"
