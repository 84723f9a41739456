//! Links the `xcompose` binary with packed relative relocations (`DT_RELR`, glibc 2.36 and GNU
//! ld 2.38 or later): the binary is position-independent, and its ~43,000 relative relocations
//! took a 1 MB `.rela.dyn` table that the dynamic loader reads at every start — pages that then
//! stay resident in every long-lived helper (keepers, supervisors, resolvers), measured with
//! bench/fleet.sh. Packed, the table is a few KB.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
