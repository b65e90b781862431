//! The storage tiers of an engine (server/storage/config.go `Class`, `TierConfig` =
//! `ScmConfig` + `BdevConfig`).

use serde::{Deserialize, Serialize};

use crate::daos::DaosVersion::{V2_0, V2_2, V2_4};
use crate::daos::config::walk::{Walker, join};
use crate::daos::config::yaml::{Node, Pos};
use crate::daos::config::{KeySpec, key};

/// Storage tier keys (`storage.TierConfig`).
const TIER_KEYS: &[KeySpec] = &[
    key("class", V2_0, None),
    key("scm_mount", V2_0, None),
    key("scm_size", V2_0, None),
    key("scm_list", V2_0, None),
    key("scm_hugepages_disabled", V2_4, None),
    key("bdev_list", V2_0, None),
    key("bdev_number", V2_0, None),
    key("bdev_size", V2_0, None),
    key("bdev_busid_range", V2_2, None),
    key("bdev_roles", V2_4, None),
];

/// A storage class (server/storage/config.go `Class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageClass {
    /// tmpfs RAM-disk SCM.
    Ram,
    /// Intel Optane persistent memory.
    Dcpm,
    /// NVMe SSDs by PCI address (through SPDK).
    Nvme,
    /// Emulated NVMe on files (AIO).
    File,
    /// Emulated NVMe on kernel block devices (AIO).
    Kdev,
}

impl StorageClass {
    /// All classes with their YAML spelling.
    pub const ALL: [(&'static str, StorageClass); 5] = [
        ("ram", StorageClass::Ram),
        ("dcpm", StorageClass::Dcpm),
        ("nvme", StorageClass::Nvme),
        ("file", StorageClass::File),
        ("kdev", StorageClass::Kdev),
    ];

    /// SCM classes (tier 0).
    pub fn is_scm(self) -> bool {
        matches!(self, StorageClass::Ram | StorageClass::Dcpm)
    }

    /// Block-device classes (tiers 1+).
    pub fn is_bdev(self) -> bool {
        !self.is_scm()
    }

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Ram => "ram",
            StorageClass::Dcpm => "dcpm",
            StorageClass::Nvme => "nvme",
            StorageClass::File => "file",
            StorageClass::Kdev => "kdev",
        }
    }
}

/// One `storage:` tier of an engine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StorageTier {
    /// Where the tier starts in the file.
    pub pos: Pos,
    /// `class`; `None` when missing or not a known class (already reported).
    pub class: Option<StorageClass>,
    /// `scm_mount`: the mount point of the SCM tier.
    pub scm_mount: Option<String>,
    /// `scm_size`: RAM-disk size in GiB; `None`/0 = auto-size. A Go `uint`, exact:
    /// DAOS multiplies it by 1 GiB in uint64 and the product wraps (storage/config.go
    /// `ScmConfig.Validate`).
    pub scm_size: Option<u64>,
    /// `scm_list`: pmem devices (class dcpm).
    pub scm_list: Vec<String>,
    /// `scm_hugepages_disabled` (2.4+): tmpfs without huge pages.
    pub scm_hugepages_disabled: Option<bool>,
    /// `bdev_list`: PCI addresses (nvme), files (file) or block devices (kdev).
    pub bdev_list: Vec<String>,
    /// `bdev_size`: file size in GiB (class file).
    pub bdev_size: Option<i64>,
    /// `bdev_number`: number of emulated devices (older releases).
    pub bdev_number: Option<i64>,
    /// `bdev_busid_range`: PCI bus range filter.
    pub bdev_busid_range: Option<String>,
    /// `bdev_roles` (2.4+): `wal`, `meta`, `data` (MD-on-SSD).
    pub bdev_roles: Vec<String>,
    /// `scm_hugepages_disabled` was written (2.8 compares its presence across engines).
    pub scm_hugepages_set: bool,
}

impl StorageTier {
    /// True for a tier with the `meta` role (MD-on-SSD).
    pub fn has_meta_role(&self) -> bool {
        self.roles().contains(&"meta")
    }

    /// The roles DAOS reads from `bdev_roles` (storage/config.go `OptionBits.fromStrings`):
    /// `wal`, `meta`, `data` spelled in lower case; empty entries are skipped and `na` (any
    /// case) ends the list. Unknown names are refused at load (validate/mdonssd.rs).
    pub fn roles(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for r in &self.bdev_roles {
            if r.is_empty() {
                continue;
            }
            if r.eq_ignore_ascii_case("na") {
                break;
            }
            if let Some(k) = ["wal", "meta", "data"].into_iter().find(|k| k == r)
                && !out.contains(&k)
            {
                out.push(k);
            }
        }
        out
    }
}

pub(super) fn parse_class(w: &mut Walker, v: &Node, path: &str) -> Option<StorageClass> {
    // go-yaml v2 does not call a type's UnmarshalYAML for a null value (decode.go
    // `prepare`): `class: ~` leaves the class empty without storage/config.go's
    // "unsupported storage class" at load; Validate then finds the tier without a class
    if v.is_null() {
        w.note_pos(path, v);
        return None;
    }
    let s = w.string(v, path)?;
    let found = StorageClass::ALL
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, c)| *c);
    if found.is_none() {
        let names = StorageClass::ALL.iter().map(|(n, _)| *n);
        let hint = crate::daos::config::suggest(&s, names)
            .map(|n| format!("; did you mean {n:?}?"))
            .unwrap_or_default();
        w.decode_error(
            v.pos,
            path,
            format!("unsupported storage class {s:?} (valid: ram, dcpm, nvme, file, kdev){hint}"),
        );
    }
    found
}

pub(super) fn parse_tier(w: &mut Walker, node: &Node, path: &str) -> StorageTier {
    let mut t = StorageTier {
        pos: node.pos,
        ..Default::default()
    };
    for (name, k, v) in w.entries(node, path) {
        let p = join(path, name);
        if !w.known(TIER_KEYS, name) {
            w.unknown_key(k, name, path, TIER_KEYS, &[]);
            // still read known-elsewhere keys below so the model is complete
            if !TIER_KEYS.iter().any(|s| s.name == name) {
                continue;
            }
        }
        match name {
            "class" => t.class = parse_class(w, v, &p),
            "scm_mount" => t.scm_mount = w.string(v, &p),
            // ScmConfig.RamdiskSize is a uint
            "scm_size" => t.scm_size = super::typed::uint64(w, v, &p),
            "scm_list" => t.scm_list = w.strings(v, &p),
            "scm_hugepages_disabled" => {
                t.scm_hugepages_disabled = w.bool(v, &p);
                t.scm_hugepages_set = !v.is_null();
            }
            "bdev_list" => t.bdev_list = w.strings(v, &p),
            "bdev_size" => t.bdev_size = w.int(v, &p),
            "bdev_number" => t.bdev_number = w.int(v, &p),
            "bdev_busid_range" => t.bdev_busid_range = w.string(v, &p),
            // judged by validate/mdonssd.rs (BdevRoles.UnmarshalYAML)
            "bdev_roles" => t.bdev_roles = w.strings(v, &p),
            _ => {}
        }
    }
    t
}
