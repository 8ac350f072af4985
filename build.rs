//! Embeds the shipped flows (`prompts/flows/*.toml`) into the binary, so that
//! `mend chat` runs from any folder with no set-up. The list is generated from
//! the folder, so a new flow file needs no code change.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // sqlx::migrate!() embeds migrations/ at compile time; a build script
    // turns off cargo's default of rerunning on any change, so say it here.
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/flows");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("prompts/flows must exist")
        .map(|entry| entry.expect("readable prompts/flows entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    let mut code = String::from("[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_flows.rs");
    std::fs::write(out, code).expect("write embedded_flows.rs");
}
