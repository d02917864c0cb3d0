//! Compiles `proto/logferry/v1/*.proto` with prost-build and the protoc binary
//! vendored by `protoc-bin-vendored`, so building needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=proto");
    let mut config = prost_build::Config::new();
    // Byte payloads are `bytes::Bytes`: cloning a record for several targets
    // does not copy large BLOB/bytea values.
    config.bytes(["."]);
    config.compile_protos(&["proto/logferry/v1/change.proto"], &["proto"])?;
    Ok(())
}
