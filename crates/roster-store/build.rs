//! `sqlx::migrate!` embeds the migrations at compile time but does not tell
//! cargo to watch them (sqlx's documentation asks for this file): without
//! it, a changed or added migration with no other change to the crate
//! would leave a build with the old ones.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
