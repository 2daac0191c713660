fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        "argus/v1/common.proto",
        "argus/v1/inventory.proto",
        "argus/v1/findings.proto",
        "argus/v1/cluster.proto",
        "argus/v1/scans.proto",
        "argus/internal/v1/pipeline.proto",
        "argus/internal/v1/network.proto",
        "argus/internal/v1/raft.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    tonic_build::configure()
        .file_descriptor_set_path(out.join("argus_descriptor.bin"))
        .bytes(["argus.internal.v1.RaftPayload.data"])
        .compile_protos(&files, &["."])?;
    Ok(())
}
