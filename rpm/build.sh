#!/usr/bin/env bash
# Builds the SRPM and the x86_64 RPM of daos-preflight into target/rpm/:
#   1. a source tarball of the checkout's tracked files with every crate vendored
#      (`cargo vendor`), so the RPM build itself is offline;
#   2. rpmbuild -ba with a private _topdir (Debian's rpm works: --nodeps because its
#      RPM database knows none of the BuildRequires, which cargo/rustup provide here).
set -euo pipefail
cd "$(dirname "$0")/.."
name=daos-preflight
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
out=$PWD/target/rpm
top=$out/topdir
rm -rf "$out"
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS} "$out/stage"
stage=$out/stage/$name-$version
mkdir -p "$stage"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -a --parents -t "$stage"
cargo vendor --locked --versioned-dirs "$stage/vendor" > "$out/vendor.toml"
mkdir -p "$stage/.cargo"
cat .cargo/config.toml "$out/vendor.toml" > "$stage/.cargo/config.toml"
tar -C "$out/stage" --owner=0 --group=0 -czf "$top/SOURCES/$name-$version.tar.gz" "$name-$version"
cp rpm/$name.spec "$top/SPECS/"
rpmbuild --define "_topdir $top" --define "packager daos-preflight developers <daos-preflight@example.invalid>" --nodeps -ba "$top/SPECS/$name.spec"
cp "$top"/RPMS/x86_64/*.rpm "$top"/SRPMS/*.rpm "$out/"
rm -rf "$out/stage"
ls -l "$out"/*.rpm
