//! Generates the Rust code of `graphd/v1/*.proto`, and a descriptor set for server reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("graphd_v1_descriptor.bin"))
        .compile_protos(&["graphd/v1/graph.proto"], &["."])?;
    println!("cargo:rerun-if-changed=graphd/v1/graph.proto");
    Ok(())
}
