# shellcheck shell=bash
# cargo_target_dir → where cargo puts what it builds for this project: the
# user's CARGO_TARGET_DIR, a build.target-dir of a cargo config, or
# ./target — as `cargo metadata` says, so the scripts find the binary
# wherever it went.
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps --offline 2>/dev/null \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
