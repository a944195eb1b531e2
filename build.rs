//! Rebuilds when a migration is added: `sqlx::migrate!` embeds the files of `migrations/` but
//! only tracks the ones that existed at the last build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
