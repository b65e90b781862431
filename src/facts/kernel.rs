//! Kernel identity: release, command line, build configuration, loaded modules.

use std::collections::BTreeMap;
use std::io::Read;

use procfs_core::{ConfigSetting, FromBufRead, KernelConfig as ProcKernelConfig, KernelModules};

use super::{CollectionError, Kernel, KernelConfig, note, parse};
use crate::host::Host;

/// Build options DAOS deployment depends on. Only these are kept in the facts (a full
/// config is ~10,000 lines and would bloat every report).
pub const RELEVANT_CONFIG: &[&str] = &[
    "CONFIG_INTEL_IOMMU",
    "CONFIG_INTEL_IOMMU_DEFAULT_ON",
    "CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF",
    "CONFIG_INTEL_IOMMU_DEFAULT_OFF",
    "CONFIG_INTEL_IOMMU_SVM",
    "CONFIG_IRQ_REMAP",
    "CONFIG_AMD_IOMMU",
    "CONFIG_AMD_IOMMU_V2",
    "CONFIG_IOMMU_SUPPORT",
    "CONFIG_IOMMU_DEFAULT_PASSTHROUGH",
    "CONFIG_IOMMU_DEFAULT_DMA_STRICT",
    "CONFIG_IOMMU_DEFAULT_DMA_LAZY",
    "CONFIG_VFIO",
    "CONFIG_VFIO_PCI",
    "CONFIG_VFIO_IOMMU_TYPE1",
    "CONFIG_VFIO_NOIOMMU",
    "CONFIG_UIO",
    "CONFIG_UIO_PCI_GENERIC",
    "CONFIG_BLK_DEV_NVME",
    "CONFIG_NUMA",
    "CONFIG_HUGETLBFS",
    "CONFIG_TRANSPARENT_HUGEPAGE",
    "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS",
    "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE",
    "CONFIG_TRANSPARENT_HUGEPAGE_NEVER",
    "CONFIG_INFINIBAND",
    "CONFIG_IKCONFIG_PROC",
];

/// Modules whose presence in `/sys/module` (loaded or built in) DAOS cares about.
pub const RELEVANT_MODULES: &[&str] = &[
    "vfio",
    "vfio_pci",
    "vfio_iommu_type1",
    "uio",
    "uio_pci_generic",
    "nvme",
    "ib_core",
    "rdma_ucm",
];

/// Parses a kernel `.config` text into the relevant options.
pub fn parse_kernel_config(text: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let cfg = ProcKernelConfig::from_buf_read(text).map_err(|e| e.to_string())?;
    Ok(cfg
        .0
        .into_iter()
        .filter(|(k, _)| RELEVANT_CONFIG.contains(&k.as_str()))
        .map(|(k, v)| {
            let v = match v {
                ConfigSetting::Yes => "y".to_string(),
                ConfigSetting::Module => "m".to_string(),
                ConfigSetting::Value(s) => s,
            };
            (k, v)
        })
        .collect())
}

fn parse_error(errors: &mut Vec<CollectionError>, host: &Host, path: &str, message: String) {
    errors.push(CollectionError {
        path: host.path(path).display().to_string(),
        kind: "parse".into(),
        message,
    });
}

/// Collects the kernel facts.
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Kernel {
    let release = note(errors, host.read_attr("/proc/sys/kernel/osrelease"))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            host.is_live()
                .then(|| nix::sys::utsname::uname().ok())
                .flatten()
                .map(|u| u.release().to_string_lossy().into_owned())
        });
    let cmdline = note(errors, host.read_string("/proc/cmdline"))
        .map(|s| s.trim_end_matches(['\n', '\0']).to_string());
    let cmdline_args = cmdline
        .as_deref()
        .map(parse::parse_cmdline)
        .unwrap_or_default();

    let mut config = KernelConfig::default();
    // /proc/config.gz (CONFIG_IKCONFIG_PROC) describes the running kernel exactly;
    // /boot/config-<release> is what distributions ship (EL8, Debian).
    let gz = note(errors, host.read_bytes("/proc/config.gz"));
    let mut text: Option<(String, Vec<u8>)> = None;
    if let Some(bytes) = gz {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out) {
            Ok(_) => text = Some(("/proc/config.gz".into(), out)),
            Err(e) => parse_error(errors, host, "/proc/config.gz", format!("gzip: {e}")),
        }
    }
    if text.is_none()
        && let Some(rel) = &release
    {
        let p = format!("/boot/config-{rel}");
        if let Some(bytes) = note(errors, host.read_bytes(&p)) {
            text = Some((p, bytes));
        }
    }
    if let Some((path, bytes)) = text {
        match parse_kernel_config(&bytes) {
            Ok(options) => {
                config.source = Some(path);
                config.options = options;
            }
            Err(e) => parse_error(errors, host, &path, e),
        }
    }

    let modules = note(errors, host.read_bytes("/proc/modules")).and_then(|bytes| {
        match KernelModules::from_buf_read(&bytes[..]) {
            Ok(m) => {
                let mut names: Vec<String> = m.0.into_keys().collect();
                names.sort();
                Some(names)
            }
            Err(e) => {
                parse_error(errors, host, "/proc/modules", e.to_string());
                None
            }
        }
    });
    let sys_modules = RELEVANT_MODULES
        .iter()
        .filter(|m| host.exists(&format!("/sys/module/{m}")))
        .map(|m| m.to_string())
        .collect();

    Kernel {
        release,
        cmdline,
        cmdline_args,
        config,
        modules,
        sys_modules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_config_keeps_relevant_options() {
        // excerpt of Debian 12's /boot/config-6.1.0-*-amd64
        let text = b"#\n# Automatically generated file; DO NOT EDIT.\nCONFIG_INTEL_IOMMU=y\n# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\nCONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y\nCONFIG_VFIO=m\nCONFIG_VFIO_PCI=m\nCONFIG_LOCALVERSION=\"\"\nCONFIG_UNRELATED=y\n";
        let m = parse_kernel_config(text).unwrap();
        assert_eq!(m.get("CONFIG_INTEL_IOMMU").map(String::as_str), Some("y"));
        assert_eq!(
            m.get("CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF")
                .map(String::as_str),
            Some("y")
        );
        assert_eq!(m.get("CONFIG_VFIO").map(String::as_str), Some("m"));
        assert!(!m.contains_key("CONFIG_INTEL_IOMMU_DEFAULT_ON"));
        assert!(!m.contains_key("CONFIG_UNRELATED"));
    }
}
