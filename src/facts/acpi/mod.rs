//! ACPI tables that describe IOMMUs: Intel's DMAR and AMD's IVRS. Pure parsers over
//! `&[u8]`, no I/O and no `unsafe`.
